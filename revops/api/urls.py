from django.urls import path

from revops.api import whoami
from revops.approvals import api as approvals

urlpatterns = [
    path("whoami", whoami.WhoAmIApi.as_view(), name="whoami"),
    path("approvals", approvals.ApprovalListApi.as_view(), name="approvals"),
    path("approvals/<int:pk>", approvals.ApprovalDetailApi.as_view(), name="approval-detail"),
    path("approvals/<int:pk>/approve", approvals.ApprovalApproveApi.as_view(), name="approval-approve"),
    path("approvals/<int:pk>/reject", approvals.ApprovalRejectApi.as_view(), name="approval-reject"),
    path("approvals/<int:pk>/cancel", approvals.ApprovalCancelApi.as_view(), name="approval-cancel"),
    path("approval-policy", approvals.ApprovalPolicyApi.as_view(), name="approval-policy"),
]
