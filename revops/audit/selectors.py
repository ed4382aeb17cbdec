"""The audit log: every historical table read as one list, newest first, with field diffs; objects as they were.

simple-history keeps one table per audited model. The log is a UNION over them of the few columns they
share (when, who, what kind of change, why, which object), ordered and paged in the database; only the
rows of the page asked for are then loaded whole to compute what changed against their previous record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast
from simple_history.models import HistoricalChanges

from revops.errors import NotFound, ValidationError

ACTIONS = {"created": "+", "changed": "~", "deleted": "-"}
ACTION_NAMES = {v: k for k, v in ACTIONS.items()}


def historical_models() -> dict[str, type[models.Model]]:
    """'catalog.price' -> its historical model, for every audited model (m2m snapshot tables left out)."""
    found = {}
    for model in apps.get_models():
        is_snapshot_table = not any(f.name == "history_date" for f in model._meta.fields)
        if issubclass(model, HistoricalChanges) and hasattr(model, "instance_type") and not is_snapshot_table:
            found[model.instance_type._meta.label_lower] = model
    return dict(sorted(found.items()))


def object_type_of(name: str) -> str:
    """Accepts 'catalog.price', 'price' or 'rate_card'; returns the label the log uses."""
    wanted = name.strip().lower().replace("_", "").replace("-", "")
    known = historical_models()
    if wanted in known:
        return wanted
    matches = [label for label in known if label.split(".")[1] == wanted]
    if len(matches) != 1:
        raise ValidationError(
            f"unknown object_type {name!r}; use one of {', '.join(known)}",
            code="unknown_object_type",
            field="object_type",
        )
    return matches[0]


@dataclass(frozen=True)
class AuditFilter:
    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None  # a username
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive
    action: str | None = None  # created | changed | deleted


@dataclass
class Change:
    field: str
    old: Any
    new: Any


@dataclass
class AuditEntry:
    at: dt.datetime
    actor: str | None
    action: str
    object_type: str
    object_id: str
    object: str
    reason: str
    changes: list[Change] = field(default_factory=list)


def _rows(wanted: AuditFilter):
    if wanted.action is not None and wanted.action not in ACTIONS:
        raise ValidationError(
            f"action is one of {', '.join(ACTIONS)}, not {wanted.action!r}", code="invalid_choice", field="action"
        )
    if wanted.since and wanted.until and wanted.since >= wanted.until:
        raise ValidationError("since must be before until", field="since")
    models_ = historical_models()
    if wanted.object_type:
        label = object_type_of(wanted.object_type)
        models_ = {label: models_[label]}
    actor_id = None
    if wanted.actor:
        actor_id = get_user_model().objects.filter(username=wanted.actor).values_list("pk", flat=True).first()
        if actor_id is None:
            return None
    parts = []
    for label, model in models_.items():
        pk_name = model.instance_type._meta.pk.attname
        qs = model.objects.all()
        if wanted.object_id:
            qs = qs.filter(**{pk_name: wanted.object_id})
        if actor_id is not None:
            qs = qs.filter(history_user_id=actor_id)
        if wanted.since:
            qs = qs.filter(history_date__gte=wanted.since)
        if wanted.until:
            qs = qs.filter(history_date__lt=wanted.until)
        if wanted.action:
            qs = qs.filter(history_type=ACTIONS[wanted.action])
        parts.append(
            qs.annotate(
                log_type=Value(label, output_field=CharField()),
                log_object_id=Cast(F(pk_name), output_field=CharField()),
            ).values_list("history_date", "history_id", "log_type", "log_object_id")
        )
    if not parts:
        return None
    first, *rest = [p.order_by() for p in parts]
    return first.union(*rest, all=True) if rest else first


def audit_log_count(wanted: AuditFilter) -> int:
    rows = _rows(wanted)
    return 0 if rows is None else rows.count()


def audit_log_page(wanted: AuditFilter, *, offset: int, limit: int) -> list[AuditEntry]:
    """Entries newest first, `limit` of them from `offset`, each with its field changes."""
    rows = _rows(wanted)
    if rows is None:
        return []
    page = list(rows.order_by("-history_date", "-history_id")[offset : offset + limit])
    models_ = historical_models()
    wanted_ids: dict[str, list[int]] = {}
    for _, history_id, label, _ in page:
        wanted_ids.setdefault(label, []).append(history_id)
    loaded = {
        (label, record.history_id): record
        for label, ids in wanted_ids.items()
        for record in models_[label].objects.filter(history_id__in=ids).select_related("history_user")
    }
    return [_entry(loaded[(label, history_id)], label, object_id) for _, history_id, label, object_id in page]


def _entry(record, label: str, object_id: str) -> AuditEntry:
    return AuditEntry(
        at=record.history_date,
        actor=record.history_user.get_username() if record.history_user else None,
        action=ACTION_NAMES.get(record.history_type, record.history_type),
        object_type=label,
        object_id=object_id,
        object=_describe(record),
        reason=record.history_change_reason or "",
        changes=changes_of(record),
    )


def _describe(record) -> str:
    try:
        return str(record.instance)
    except Exception:  # a __str__ reaching a row deleted since: the kind and id still say what it was
        return f"{record.instance_type._meta.verbose_name} #{record.pk}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f").rstrip("0")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _tracked_fields(record) -> list[models.Field]:
    meta = record.instance_type._meta if hasattr(record, "instance_type") else record._meta
    return [f for f in meta.concrete_fields if hasattr(record, f.attname)]


def changes_of(record) -> list[Change]:
    """What this record changed: every set field when created, the differing fields when changed."""
    if record.history_type == "+":
        return [
            Change(f.name, None, _plain(getattr(record, f.attname)))
            for f in _tracked_fields(record)
            if not f.primary_key and getattr(record, f.attname) not in (None, "", [], {})
        ]
    if record.history_type == "-":
        return []
    previous = record.prev_record
    if previous is None:
        return []
    delta = record.diff_against(previous)
    return [Change(c.field, _plain(c.old), _plain(c.new)) for c in delta.changes]


# --- objects as they were --------------------------------------------------------------------------------


def snapshot(record) -> dict[str, Any]:
    """A historical record's fields as plain JSON values."""
    return {f.attname: _plain(getattr(record, f.attname)) for f in _tracked_fields(record)}


def _as_of(model: type[models.Model], when: dt.datetime, **filters: Any) -> list[dict[str, Any]]:
    return [snapshot(r) for r in model.history.as_of(when).filter(**filters).order_by("pk")]


def _record_as_of(obj: models.Model | None, when: dt.datetime):
    if obj is None:
        return None
    try:
        return obj.history.as_of(when)
    except type(obj).DoesNotExist:  # not yet created, or already deleted, at that moment
        return None


def rate_card_as_of(*, code: str, when: dt.datetime) -> dict[str, Any]:
    """A rate card with its versions, prices and tiers as the database held them at `when`."""
    from catalog.models import Price, PriceTier, RateCard, RateCardVersion

    card = RateCard.objects.filter(code=code).first()
    record = _record_as_of(card, when)
    if record is None:
        raise NotFound(f"rate card {code!r} did not exist at {when.isoformat()}", code="not_found")
    versions = _as_of(RateCardVersion, when, rate_card_id=card.pk)
    prices = _as_of(Price, when, version_id__in=[v["id"] for v in versions])
    tiers = _as_of(PriceTier, when, price_id__in=[p["id"] for p in prices])
    for price in prices:
        price["tiers"] = [t for t in tiers if t["price_id"] == price["id"]]
    for version in versions:
        version["prices"] = [p for p in prices if p["version_id"] == version["id"]]
    return {"as_of": when.isoformat(), **snapshot(record), "versions": versions}


def contract_as_of(*, pk: int, when: dt.datetime) -> dict[str, Any]:
    """A contract with its versions of terms, subscription changes and balances as held at `when`."""
    from contracts.models import (
        Balance,
        Contract,
        ContractVersion,
        IncludedUsage,
        MinimumSpend,
        PriceOverride,
        SubscriptionChange,
        Trial,
    )

    contract = Contract.objects.filter(pk=pk).first()
    record = _record_as_of(contract, when)
    if record is None:
        raise NotFound(f"contract {pk} did not exist at {when.isoformat()}", code="not_found")
    versions = _as_of(ContractVersion, when, contract_id=pk)
    ids = [v["id"] for v in versions]
    terms = {
        "overrides": _as_of(PriceOverride, when, version_id__in=ids),
        "included_usage": _as_of(IncludedUsage, when, version_id__in=ids),
        "minimums": _as_of(MinimumSpend, when, version_id__in=ids),
        "trials": _as_of(Trial, when, version_id__in=ids),
    }
    for version in versions:
        for kind, rows in terms.items():
            version[kind] = [r for r in rows if r["version_id"] == version["id"]]
    return {
        "as_of": when.isoformat(),
        **snapshot(record),
        "versions": versions,
        "subscription_changes": _as_of(SubscriptionChange, when, contract_id=pk),
        "balances": _as_of(Balance, when, contract_id=pk),
    }
