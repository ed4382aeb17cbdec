"""Billable metrics: create, change (until an active price depends on them), preview."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from catalog import metrics as definitions
from catalog.models import BillableMetric, Price, VersionStatus, code_validator
from revops.errors import Conflict, ValidationError
from revops.history import stamp

DEFINITION_FIELDS = ("event_type", "aggregation", "property", "filters", "group_by", "time_unit")
DESCRIPTIVE_FIELDS = ("name", "description", "unit_label")
RESERVED_METRIC_CODES = frozenset({"preview"})  # /api/v1/metrics/preview


def metric_definition_check(fields: Mapping[str, Any]) -> definitions.MetricDefinition:
    """Parse a definition, turning its problems into a ValidationError naming each field."""
    try:
        return definitions.parse_definition(**{k: fields[k] for k in DEFINITION_FIELDS if k in fields})
    except definitions.MetricDefinitionError as exc:
        raise ValidationError(
            "the metric definition is invalid", code="invalid_metric", fields=_group(exc.problems)
        ) from None


def _group(problems: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, message in problems:
        out.setdefault(field, []).append(message)
    return out


def definition_of(metric: BillableMetric) -> definitions.MetricDefinition:
    return definitions.parse_definition(**{k: getattr(metric, k) for k in DEFINITION_FIELDS})


@transaction.atomic
def metric_create(
    *,
    code: str,
    name: str,
    event_type: str,
    aggregation: str,
    actor: AbstractBaseUser | None,
    property: str = "",
    filters: list[dict[str, Any]] | None = None,
    group_by: list[str] | None = None,
    time_unit: str = "",
    description: str = "",
    unit_label: str = "",
    reason: str = "metric created",
) -> BillableMetric:
    fields = {
        "event_type": event_type,
        "aggregation": aggregation,
        "property": property,
        "filters": list(filters or []),
        "group_by": list(group_by or []),
        "time_unit": time_unit,
    }
    metric_definition_check(fields)
    if code in RESERVED_METRIC_CODES:
        raise ValidationError(f"{code!r} is reserved (it names an API path); choose another code", field="code")
    _check_code(code, BillableMetric)
    if not name.strip():
        raise ValidationError("a metric needs a name", field="name")
    metric = BillableMetric(code=code, name=name.strip(), description=description, unit_label=unit_label, **fields)
    stamp(metric, actor=actor, reason=reason)
    metric.save()
    return metric


def _check_code(code: str, model: type) -> None:
    try:
        code_validator(code)
    except DjangoValidationError as exc:
        raise ValidationError(exc.messages[0], field="code") from None
    if model.objects.filter(code=code).exists():
        raise ValidationError(f"the code {code!r} is taken", code="duplicate", field="code")


def metric_is_in_use(metric: BillableMetric) -> bool:
    """True when a product priced in an active rate card version bills from this metric."""
    return Price.objects.filter(product__metric=metric, version__status=VersionStatus.ACTIVE).exists()


@transaction.atomic
def metric_update(
    *, metric: BillableMetric, actor: AbstractBaseUser | None, reason: str, **changes: Any
) -> BillableMetric:
    unknown = set(changes) - set(DEFINITION_FIELDS) - set(DESCRIPTIVE_FIELDS)
    if unknown:
        raise ValidationError(f"these fields cannot be changed: {', '.join(sorted(unknown))}", code="not_editable")
    metric = BillableMetric.objects.select_for_update().get(pk=metric.pk)
    definition_changes = {k: v for k, v in changes.items() if k in DEFINITION_FIELDS and getattr(metric, k) != v}
    if definition_changes:
        if metric_is_in_use(metric):
            raise Conflict(
                "this metric prices an active rate card version, so its definition is frozen "
                "(invoices already depend on it); create a new metric and a new rate card version instead",
                code="metric_in_use",
            )
        metric_definition_check({**{k: getattr(metric, k) for k in DEFINITION_FIELDS}, **definition_changes})
    if "name" in changes and not str(changes["name"]).strip():
        raise ValidationError("a metric needs a name", field="name")
    for name, value in changes.items():
        setattr(metric, name, value)
    stamp(metric, actor=actor, reason=reason)
    metric.save()
    return metric


def metric_preview(
    *,
    definition: definitions.MetricDefinition,
    events: Sequence[Mapping[str, Any]],
    start: dt.datetime,
    end: dt.datetime,
    group_key: str | None = None,
) -> dict[str, definitions.GroupQuantity]:
    """The quantity the metric yields over sample events (nothing is stored)."""
    try:
        return definitions.aggregate(definition, events, start=start, end=end, group_key=group_key)
    except definitions.EventValueError as exc:
        raise ValidationError(str(exc), code="invalid_event", field="events") from None
    except ValueError as exc:
        field = "group_key" if group_key is not None and "group-by" in str(exc) else "end"
        raise ValidationError(str(exc), field=field) from None
