"""Rate card versions go into effect only through approval: asking to activate one, and rolling back.

`rate_card_version_activation_propose` is what the admin and the API call: it checks the draft (the
same checks as activation, the price floors included), applies the price-change guardrail, and makes
the approval request with the price diff against the version in effect. On approval the workflow runs
`rate_card_version_activate` (catalog/services/rate_cards.py), the one activation path. The request
goes stale if the draft changes in between (a price, its date).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from catalog import guardrails, specs
from catalog.models import Price, RateCard, RateCardVersion, VersionStatus
from catalog.services.rate_cards import (
    _lock_draft,
    rate_card_version_activate,
    rate_card_version_check,
    rate_card_version_create,
)
from revops.approvals import registry
from revops.approvals.models import ActionKind, ApprovalRequest, GuardrailMode
from revops.approvals.policy import policy_get
from revops.approvals.services import request_submit
from revops.errors import ValidationError
from revops.money import plain


def _item(price: Price) -> str:
    return price.product.code + (f" [{price.group_key}={price.group_value or '*'}]" if price.group_key else "")


def price_fields(price: Price) -> dict[str, str]:
    """A price as flat text fields, tiers numbered from 1: what a diff compares."""
    out = {"model": price.model}
    for name in specs.SPEC_FIELDS:
        value = getattr(price, name)
        if value is None or (name == "included_units" and value == 0):
            continue
        if name in ("package_rounding", "rounding") and value == price._meta.get_field(name).get_default():
            continue
        out[name] = plain(value) if isinstance(value, Decimal) else str(value)
    for number, tier in enumerate(price.tiers.order_by("start"), start=1):
        out[f"tier {number} from"] = plain(tier.start)
        out[f"tier {number} up to"] = "no limit" if tier.up_to is None else plain(tier.up_to)
        out[f"tier {number} unit price"] = plain(tier.unit_price)
        if tier.flat_fee:
            out[f"tier {number} flat fee"] = plain(tier.flat_fee)
    return out


def _prices(version: RateCardVersion | None) -> dict[str, Price]:
    if version is None:
        return {}
    rows = version.prices.select_related("product").prefetch_related("tiers")
    return {_item(p): p for p in rows}


def version_in_effect(card: RateCard) -> RateCardVersion | None:
    """What a new version is compared with: the card's latest active version."""
    return card.versions.filter(status=VersionStatus.ACTIVE).order_by("-effective_from", "-number").first()


def version_diff(old: RateCardVersion | None, new: RateCardVersion) -> list[dict[str, Any]]:
    """Every price field that differs, per product (and group value) and tier: before and after."""
    before, after = _prices(old), _prices(new)
    rows = []
    for item in sorted(set(before) | set(after)):
        a = price_fields(before[item]) if item in before else {}
        b = price_fields(after[item]) if item in after else {}
        change = None
        if item in before and item in after:
            change = guardrails.change_percent(specs.spec_for_price(before[item]), specs.spec_for_price(after[item]))
        for field in list(dict.fromkeys([*a, *b])):
            if a.get(field) != b.get(field):
                rows.append(
                    {
                        "item": item,
                        "field": field,
                        "before": a.get(field),
                        "after": b.get(field),
                        "change_percent": None if change is None else plain(change),
                    }
                )
    return rows


def price_change_trips(old: RateCardVersion | None, new: RateCardVersion) -> list[str]:
    """The prices that move more than the policy allows against the version in effect, in words."""
    limit = policy_get().max_price_change_percent
    if old is None or limit is None:
        return []
    before, after = _prices(old), _prices(new)
    out = []
    for item in sorted(set(before) & set(after)):
        change = guardrails.change_percent(specs.spec_for_price(before[item]), specs.spec_for_price(after[item]))
        if change is not None and abs(change) > limit:
            out.append(f"{item} moves {plain(change)}% against v{old.number} (the limit is {plain(limit)}%)")
    return out


def _snapshot(payload: dict[str, Any]) -> dict[str, Any]:
    version = RateCardVersion.objects.get(pk=payload["version_id"])
    return {
        "status": version.status,
        "effective_from": version.effective_from.isoformat(),
        "prices": {item: price_fields(p) for item, p in _prices(version).items()},
    }


def _apply(payload: dict[str, Any], *, actor, as_of: dt.datetime, reason: str) -> str:
    version = RateCardVersion.objects.get(pk=payload["version_id"])
    version = rate_card_version_activate(version=version, actor=actor, as_of=as_of, reason=reason)
    return f"{version.rate_card.code} v{version.number} is active from {version.effective_from}"


@transaction.atomic
def rate_card_version_activation_propose(
    *,
    version: RateCardVersion,
    actor: AbstractBaseUser | None,
    as_of: dt.datetime,
    reason: str,
    effective_date: dt.date | None = None,
) -> ApprovalRequest:
    """Ask for a draft's activation. Refused at once when it could not be activated or a guardrail blocks."""
    version = _lock_draft(version)
    rate_card_version_check(version)
    if ApprovalRequest.objects.filter(
        kind=ActionKind.VERSION_ACTIVATE, payload__version_id=version.pk, status__in=["pending", "approved"]
    ).exists():
        raise ValidationError(
            f"v{version.number} of {version.rate_card.code} already waits for approval", code="already_requested"
        )
    current = version_in_effect(version.rate_card)
    trips = price_change_trips(current, version)
    escalation = ""
    if trips:
        if policy_get().guardrail_mode == GuardrailMode.BLOCK:
            raise ValidationError(
                "a price changes more than the policy allows: " + "; ".join(trips),
                code="price_change_too_large",
                field="prices",
            )
        escalation = "price change above the limit, two approvers needed: " + "; ".join(trips)
    return request_submit(
        kind=ActionKind.VERSION_ACTIVATE,
        target=version,
        target_label=f"{version.rate_card.code} v{version.number} (from {version.effective_from})",
        payload={"version_id": version.pk, "rate_card": version.rate_card.code, "number": version.number},
        diff=version_diff(current, version),
        actor=actor,
        reason=reason,
        effective_date=effective_date or as_of.date(),
        as_of=as_of,
        approvers_required=2 if trips else None,
        escalation=escalation,
    )


@transaction.atomic
def rate_card_version_rollback(
    *,
    version: RateCardVersion,
    effective_from: dt.date,
    actor: AbstractBaseUser | None,
    as_of: dt.datetime,
    reason: str,
) -> ApprovalRequest:
    """Restore an earlier version's prices: a new draft copied from it, whose activation is asked for."""
    version = RateCardVersion.objects.select_related("rate_card").get(pk=version.pk)
    if version.status != VersionStatus.ACTIVE:
        raise ValidationError("roll back to a version that was in effect (an active one)", field="version")
    if not reason.strip():
        raise ValidationError("a rollback needs a reason", field="reason")
    draft = rate_card_version_create(
        rate_card=version.rate_card,
        based_on=version,
        effective_from=effective_from,
        notes=f"rollback to v{version.number}",
        actor=actor,
        reason=f"rollback to v{version.number}: {reason}",
    )
    return rate_card_version_activation_propose(
        version=draft, actor=actor, as_of=as_of, reason=f"rollback to v{version.number}: {reason}"
    )


registry.register(ActionKind.VERSION_ACTIVATE, apply=_apply, snapshot=_snapshot)
