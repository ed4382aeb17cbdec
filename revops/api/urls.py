from django.urls import path

from revops.api import whoami
from revops.audit import api as audit

urlpatterns = [
    path("whoami", whoami.WhoAmIApi.as_view(), name="whoami"),
    path("audit", audit.AuditLogApi.as_view(), name="audit-log"),
    path("audit/export.csv", audit.AuditLogCsvApi.as_view(), name="audit-log-csv"),
    path("audit/rate-cards/<str:code>", audit.RateCardAsOfApi.as_view(), name="audit-rate-card-as-of"),
    path("audit/contracts/<int:pk>", audit.ContractAsOfApi.as_view(), name="audit-contract-as-of"),
]
