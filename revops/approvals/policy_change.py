"""A change to the approval policy is itself approved: the thresholds are what stop unseen changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from revops.approvals import registry
from revops.approvals.models import ActionKind, ApprovalRequest
from revops.approvals.policy import check_policy_values, policy_get, policy_values
from revops.approvals.services import request_submit
from revops.errors import ValidationError
from revops.history import stamp


def approval_policy_propose(
    *, values: dict[str, Any], actor: AbstractBaseUser | None, reason: str, as_of: dt.datetime
) -> ApprovalRequest:
    """Ask for the policy settings in `values` to change (the others stay). Always needs approval."""
    clean = check_policy_values(values)
    before = policy_values(policy_get())
    changed = {name: value for name, value in clean.items() if before.get(name) != value}
    if not changed:
        raise ValidationError("this changes nothing in the policy", code="no_change")
    diff = [
        {"item": "policy", "field": name, "before": before.get(name), "after": value} for name, value in changed.items()
    ]
    return request_submit(
        kind=ActionKind.POLICY_CHANGE,
        target=policy_get(),
        target_label="the approval policy",
        payload={"values": changed},
        diff=diff,
        impact={},
        actor=actor,
        reason=reason,
        effective_date=as_of.date(),
        as_of=as_of,
    )


@transaction.atomic
def _apply(payload: dict[str, Any], *, actor, as_of: dt.datetime, reason: str) -> str:
    policy = policy_get()
    for name, value in payload["values"].items():
        setattr(policy, name, value)
    stamp(policy, actor=actor, reason=reason)
    policy.save()
    return f"policy changed: {', '.join(sorted(payload['values']))}"


def _snapshot(payload: dict[str, Any]) -> dict[str, Any]:
    current = policy_values(policy_get())
    return {name: current.get(name) for name in payload["values"]}


registry.register(ActionKind.POLICY_CHANGE, apply=_apply, snapshot=_snapshot)
