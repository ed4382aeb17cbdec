"""Approvers for tests: staff users holding `revops.decide_approvalrequest`, and approving as one."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from revops.approvals.models import ApprovalRequest
from revops.approvals.services import request_approve
from revops.roles import APPROVER, roles_setup


def make_approver(username: str = "checker", *, email: str | None = None):
    """A member of the Approver role (decides, reads what a request concerns)."""
    user = get_user_model().objects.create_user(
        username=username, password="pw-approver-123", is_staff=True, email=email or f"{username}@example.com"
    )
    user.groups.add(role(APPROVER))
    return get_user_model().objects.get(pk=user.pk)  # a fresh object: permissions are cached per instance


def role(name: str) -> Group:
    roles_setup()  # idempotent: the groups exactly as revops/roles.py says
    return Group.objects.get(name=name)


def approve_latest(*, as_of: dt.datetime, username: str = "checker") -> ApprovalRequest:
    """The newest request, approved by a second person (made on first use)."""
    approver = get_user_model().objects.filter(username=username).first() or make_approver(username)
    request = ApprovalRequest.objects.order_by("-pk").first()
    return request_approve(request=request, actor=approver, as_of=as_of)
