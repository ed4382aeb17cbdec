"""Reading the approval policy: which changes need approval, and by how many people."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from revops.approvals.models import ApprovalPolicy
from revops.errors import ValidationError


def policy_get() -> ApprovalPolicy:
    """The one policy row (made by migration; made here too if someone deleted it)."""
    policy, _ = ApprovalPolicy.objects.get_or_create(pk=1)
    return policy


def above_threshold(thresholds: dict[str, str], currency: str, amount: Decimal) -> bool:
    """True when `amount` is above the currency's threshold, or the currency has none (then any amount is)."""
    limit = thresholds.get(currency)
    if limit is None:
        return True
    return amount > Decimal(str(limit))


def approvers_for(kind: str, policy: ApprovalPolicy | None = None) -> int:
    policy = policy or policy_get()
    return int(policy.approvers_required.get(kind, 1))


def check_policy_values(values: dict) -> dict:
    """The policy fields as they will be stored, or a ValidationError naming each bad field."""
    from revops.approvals.models import ActionKind, GuardrailMode

    errors: dict[str, list[str]] = {}
    out = dict(values)
    for name in ("credit_grant_thresholds", "void_thresholds"):
        if name not in values:
            continue
        table = values[name]
        if not isinstance(table, dict):
            errors[name] = ['give amounts per currency, like {"USD": "5000"}']
            continue
        clean = {}
        for currency, amount in table.items():
            try:
                value = Decimal(str(amount))
            except InvalidOperation:
                value = None
            if not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
                errors.setdefault(name, []).append(f"{currency!r} is not an ISO 4217 code")
            elif value is None or not value.is_finite() or value < 0:
                errors.setdefault(name, []).append(f"{currency}: {amount!r} is not an amount of 0 or more")
            else:
                clean[currency] = format(value, "f")
        out[name] = clean
    if "approvers_required" in values:
        table = values["approvers_required"]
        if not isinstance(table, dict):
            errors["approvers_required"] = ['give a number per kind, like {"invoice.void": 2}']
        else:
            for kind, count in table.items():
                if kind not in ActionKind.values:
                    errors.setdefault("approvers_required", []).append(f"{kind!r} is not an action kind")
                elif count not in (1, 2):
                    errors.setdefault("approvers_required", []).append(f"{kind}: 1 or 2 approvers, not {count!r}")
    for name in ("max_discount_percent", "max_price_change_percent"):
        if name in values and values[name] is not None:
            try:
                value = Decimal(str(values[name]))
            except InvalidOperation:
                value = Decimal(-1)
            if not value.is_finite() or value < 0:
                errors[name] = ["a percentage of 0 or more"]
            else:
                out[name] = format(value, "f")
    if values.get("max_discount_percent", "") is None:
        errors["max_discount_percent"] = ["a percentage of 0 or more"]
    if "guardrail_mode" in values and values["guardrail_mode"] not in GuardrailMode.values:
        errors["guardrail_mode"] = [f"use one of {', '.join(GuardrailMode.values)}"]
    if "migration_needs_approval" in values and not isinstance(values["migration_needs_approval"], bool):
        errors["migration_needs_approval"] = ["true or false"]
    unknown = set(values) - POLICY_FIELDS
    for name in sorted(unknown):
        errors[name] = ["not a policy setting"]
    if errors:
        raise ValidationError("the policy change is invalid", code="invalid_policy", fields=errors)
    return out


POLICY_FIELDS = {
    "max_discount_percent",
    "credit_grant_thresholds",
    "void_thresholds",
    "migration_needs_approval",
    "approvers_required",
    "max_price_change_percent",
    "guardrail_mode",
}


def policy_values(policy: ApprovalPolicy) -> dict:
    """The policy as JSON values (decimals as strings), the shape a policy change's diff compares."""
    out = {}
    for name in sorted(POLICY_FIELDS):
        value = getattr(policy, name)
        out[name] = None if value is None else format(value.normalize(), "f") if isinstance(value, Decimal) else value
    return out
