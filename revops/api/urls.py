from django.urls import path

from revops.api import whoami
from revops.approvals import api as approvals
from revops.audit import api as audit

urlpatterns = [
    path("whoami", whoami.WhoAmIApi.as_view(), name="whoami"),
    path("approvals", approvals.ApprovalListApi.as_view(), name="approvals"),
    path("approvals/<int:pk>", approvals.ApprovalDetailApi.as_view(), name="approval-detail"),
    path("approvals/<int:pk>/approve", approvals.ApprovalApproveApi.as_view(), name="approval-approve"),
    path("approvals/<int:pk>/reject", approvals.ApprovalRejectApi.as_view(), name="approval-reject"),
    path("approvals/<int:pk>/cancel", approvals.ApprovalCancelApi.as_view(), name="approval-cancel"),
    path("approval-policy", approvals.ApprovalPolicyApi.as_view(), name="approval-policy"),
    path("audit", audit.AuditLogApi.as_view(), name="audit-log"),
    path("audit/export.csv", audit.AuditLogCsvApi.as_view(), name="audit-log-csv"),
    path("audit/rate-cards/<str:code>", audit.RateCardAsOfApi.as_view(), name="audit-rate-card-as-of"),
    path("audit/contracts/<int:pk>", audit.ContractAsOfApi.as_view(), name="audit-contract-as-of"),
]
