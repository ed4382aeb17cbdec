"""Metering reads: a metric's quantity for a customer over [start, end), and current usage with its cost.

Quantities come from hourly rollups for the whole hours of the range and from raw events for
the partial hours at its edges (periods turn at midnight in the customer's timezone, which is
not always a whole UTC hour), so results are exact for any range. Time-weighted sums and
per-event values (percentage prices with per-event clamps) are computed from raw events with
the reference aggregation in catalog/metrics.py.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection

from catalog import rating
from catalog.metrics import GroupQuantity, aggregate
from catalog.models import BillableMetric, RateCardVersion, VersionStatus
from catalog.selectors import version_price_specs
from catalog.services.metrics import definition_of
from contracts import pricing
from contracts.models import Contract, Customer
from contracts.prefetch import batch_for
from contracts.selectors import contract_active_on, contract_card_version, contract_period, contract_price_specs
from revops.periods import Cadence, Period, period_bounds_utc, period_containing
from usage import rollups
from usage.ingest import unique_text
from usage.models import MetricRollupState, UsageEvent

HOUR = dt.timedelta(hours=1)


# Events that arrived later than this after they happened are in the partial index usage_event_late
# (usage/migrations/0005): the expression must stay the index's predicate, word for word, to use it.
LATE_AFTER = dt.timedelta(days=1)
_DELAYED = "received_at - \"timestamp\" > interval '1 day'"


def late_events_exist(*, customer_id: int, start: dt.datetime, end: dt.datetime, since: dt.datetime) -> bool:
    """Whether any of the customer's events in [start, end) arrived after `since` (an invoice's finalization).

    An event that happened more than a day before `since` and arrived after it was delayed by more than a
    day: it is in the small index of delayed events. Only the events of the last day before `since` are
    looked up among all of them, and a period finalized after its grace (three days) has none.
    """
    where = 'customer_id = %s AND "timestamp" >= %s AND "timestamp" < %s AND received_at > %s'
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM usage_usageevent WHERE {where} AND {_DELAYED})",
            [customer_id, start, end, since],
        )
        if cursor.fetchone()[0]:
            return True
        recent = max(start, since - LATE_AFTER)
        if recent >= end:
            return False
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM usage_usageevent WHERE {where})", [customer_id, recent, end, since]
        )
        return cursor.fetchone()[0]


def _ceil_hour(moment: dt.datetime) -> dt.datetime:
    floor = rollups.bucket_of(moment)
    return floor if floor == moment else floor + HOUR


def _raw_events(customer_id: int, metric: BillableMetric, start: dt.datetime, end: dt.datetime) -> list[dict]:
    rows = UsageEvent.objects.filter(
        customer_id=customer_id, event_type=metric.event_type, timestamp__gte=start, timestamp__lt=end
    ).values_list("timestamp", "properties", "id")
    return [
        {"event_type": metric.event_type, "timestamp": ts, "properties": props, "id": pk}
        for ts, props, pk in rows.order_by("timestamp", "id")
    ]


# Metric id -> definition hash whose rollups are known to be built. Builds never undo themselves, so a
# hash seen built stays built; a changed definition has another hash and is looked up again.
_built: dict[int, str] = {}


def _ensure_rollups(metric: BillableMetric, as_of: dt.datetime) -> None:
    wanted = rollups.definition_hash(metric)
    if _built.get(metric.pk) == wanted:
        return
    state = MetricRollupState.objects.filter(metric=metric).values_list("definition_hash", flat=True).first()
    if state != wanted:
        rollups.rollups_build(metric=metric, as_of=as_of)
    _built[metric.pk] = wanted


def metric_usage(
    *,
    customer_id: int,
    metric: BillableMetric,
    start: dt.datetime,
    end: dt.datetime,
    group_key: str | None = None,
    with_values: bool = False,
) -> dict[str, GroupQuantity]:
    """The metric's quantity per group value over [start, end). `with_values` also returns each event's value."""
    if start >= end:
        raise ValueError("the range must start before it ends")
    definition = definition_of(metric)
    if metric.aggregation == "time_weighted_sum":
        lookback = dt.timedelta(days=settings.REVOPS_LEVEL_LOOKBACK_DAYS)
        events = _raw_events(customer_id, metric, start - lookback, end)
        return aggregate(definition, events, start=start, end=end, group_key=group_key)
    if with_values:
        return aggregate(
            definition, _raw_events(customer_id, metric, start, end), start=start, end=end, group_key=group_key
        )

    _ensure_rollups(metric, end)
    inner_start, inner_end = _ceil_hour(start), rollups.bucket_of(end)
    if inner_start >= inner_end:  # less than one whole hour: raw events only
        return aggregate(
            definition, _raw_events(customer_id, metric, start, end), start=start, end=end, group_key=group_key
        )
    head = _raw_events(customer_id, metric, start, inner_start) if start < inner_start else []
    tail = _raw_events(customer_id, metric, inner_end, end) if inner_end < end else []

    if metric.aggregation == "unique_count":
        return _unique_counts(customer_id, metric, definition, inner_start, inner_end, group_key, head + tail)

    result = _rollup_totals(customer_id, metric, inner_start, inner_end, group_key)
    for edge in (head, tail):  # head is before the whole hours, tail after: "latest" follows that order
        if not edge:
            continue
        for group, part in aggregate(definition, edge, start=start, end=end, group_key=group_key).items():
            total = result.setdefault(group, GroupQuantity())
            _merge(metric.aggregation, total, part, later=edge is tail)
    return result


ADDITIVE = ("count", "sum", "max")


def metrics_usage(
    *,
    customer_id: int,
    metrics: list[BillableMetric],
    start: dt.datetime,
    end: dt.datetime,
    group_keys: dict[int, str],
) -> dict[int, dict[str, GroupQuantity]]:
    """Several metrics at once (metric id -> group -> quantity): count, sum and max metrics over whole
    hours come from one query; the others go through `metric_usage` one by one. Same results."""
    whole_hours = rollups.bucket_of(start) == start and rollups.bucket_of(end) == end and start < end
    batched = [m for m in metrics if whole_hours and m.aggregation in ADDITIVE]
    result = {
        m.pk: metric_usage(customer_id=customer_id, metric=m, start=start, end=end, group_key=group_keys.get(m.pk))
        for m in metrics
        if m not in batched
    }
    if not batched:
        return result
    for metric in batched:
        _ensure_rollups(metric, end)
        result[metric.pk] = {}
    cases, case_params = [], []
    for metric in batched:
        if metric.pk in group_keys:
            cases.append("WHEN metric_id = %s THEN COALESCE(groups->>%s, '')")
            case_params += [metric.pk, group_keys[metric.pk]]
    group_sql = f"CASE {' '.join(cases)} ELSE '' END" if cases else "''"
    where = "customer_id = %s AND metric_id = ANY(%s) AND bucket >= %s AND bucket < %s"
    params = [customer_id, [m.pk for m in batched], start, end]
    columns = "metric_id, groups, event_count, value_sum, value_max"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT metric_id, {group_sql} AS g, sum(event_count), sum(value_sum), max(value_max) FROM ("
            f"SELECT {columns} FROM usage_usagerollup WHERE {where} "
            f"UNION ALL SELECT {columns} FROM usage_rollupdelta WHERE {where}) r GROUP BY metric_id, g",
            [*case_params, *params, *params],
        )
        rows = cursor.fetchall()
    pick = {m.pk: {"count": 2, "sum": 3, "max": 4}[m.aggregation] for m in batched}
    for row in rows:
        result[row[0]][row[1]] = GroupQuantity(quantity=row[pick[row[0]]], event_count=int(row[2]))
    return result


def _group_sql(group_key: str | None) -> tuple[str, list]:
    if group_key is None:
        return "''", []
    return "COALESCE(groups->>%s, '')", [group_key]


_WHERE = "customer_id = %s AND metric_id = %s AND bucket >= %s AND bucket < %s"
_ROLLUP_COLUMNS = "groups, event_count, value_sum, value_max, latest_at, latest_event_id, latest_value"


def _rollups_and_deltas(params: list) -> tuple[str, list]:
    """Compacted rollups plus the deltas not yet folded in: together, everything ingested."""
    sql = (
        f"(SELECT {_ROLLUP_COLUMNS} FROM usage_usagerollup WHERE {_WHERE} "
        f"UNION ALL SELECT {_ROLLUP_COLUMNS} FROM usage_rollupdelta WHERE {_WHERE})"
    )
    return sql, [*params, *params]


def _rollup_totals(customer_id, metric, start, end, group_key) -> dict[str, GroupQuantity]:
    group_sql, group_params = _group_sql(group_key)
    source, params = _rollups_and_deltas([customer_id, metric.pk, start, end])
    with connection.cursor() as cursor:
        if metric.aggregation == "latest":
            cursor.execute(
                f"SELECT DISTINCT ON (g) g, event_count_total, latest_value FROM ("
                f"  SELECT {group_sql} AS g, latest_at, latest_event_id, latest_value,"
                f"         sum(event_count) OVER (PARTITION BY {group_sql}) AS event_count_total"
                f"  FROM {source} r) r "
                f"ORDER BY g, latest_at DESC NULLS LAST, latest_event_id DESC NULLS LAST",
                [*group_params, *group_params, *params],
            )
            return {g: GroupQuantity(quantity=value, event_count=int(n)) for g, n, value in cursor.fetchall()}
        cursor.execute(
            f"SELECT {group_sql} AS g, sum(event_count), sum(value_sum), max(value_max) FROM {source} r GROUP BY g",
            [*group_params, *params],
        )
        rows = cursor.fetchall()
    pick = {"count": 1, "sum": 2, "max": 3}[metric.aggregation]
    return {row[0]: GroupQuantity(quantity=row[pick], event_count=int(row[1])) for row in rows}


def _merge(aggregation: str, total: GroupQuantity, part: GroupQuantity, *, later: bool) -> None:
    had_events = total.event_count > 0
    total.event_count += part.event_count
    if aggregation in ("count", "sum"):
        total.quantity += part.quantity
    elif aggregation == "max":
        total.quantity = part.quantity if not had_events else max(total.quantity, part.quantity)
    elif aggregation == "latest" and (later or not had_events):
        total.quantity = part.quantity


def _unique_counts(customer_id, metric, definition, start, end, group_key, edge_events) -> dict[str, GroupQuantity]:
    group_sql, group_params = _group_sql(group_key)
    params = [customer_id, metric.pk, start, end]
    source = (
        f"(SELECT groups, value FROM usage_uniquevalue WHERE {_WHERE} "
        f"UNION ALL SELECT groups, value FROM usage_uniquevaluedelta WHERE {_WHERE}) u"
    )
    with connection.cursor() as cursor:
        if not edge_events:  # the common case: the range is whole hours, count in the database
            cursor.execute(
                f"SELECT {group_sql} AS g, count(DISTINCT value) FROM {source} GROUP BY g",
                [*group_params, *params, *params],
            )
            return {g: GroupQuantity(quantity=Decimal(n)) for g, n in cursor.fetchall()}
        cursor.execute(f"SELECT DISTINCT {group_sql} AS g, value FROM {source}", [*group_params, *params, *params])
        seen: dict[str, set[str]] = {}
        for g, value in cursor.fetchall():
            seen.setdefault(g, set()).add(value)
    for event in edge_events:
        properties = event["properties"]
        if not definition.matches(event) or properties.get(definition.property) is None:
            continue
        seen.setdefault(definition.group_of(properties, group_key), set()).add(
            unique_text(properties[definition.property])
        )
    return {g: GroupQuantity(quantity=Decimal(len(values))) for g, values in seen.items()}


# --- current usage --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricUsage:
    metric: BillableMetric
    quantities: dict[str, GroupQuantity]  # per group value ('' = all)


@dataclass(frozen=True)
class CostLine:
    product_code: str
    product_name: str
    metric_code: str
    line: rating.RatedLine


@dataclass(frozen=True)
class CurrentUsage:
    customer: Customer
    period: Period
    start: dt.datetime
    end: dt.datetime
    metrics: list[MetricUsage]
    version: RateCardVersion | None
    lines: list[CostLine]
    problems: list[str]
    contract: Contract | None = None

    @property
    def total(self) -> Decimal:
        return sum((c.line.rounded_amount() for c in self.lines), Decimal(0))


# Active versions never change, so their engine specs can be kept for the life of the process.
_spec_cache: dict[int, dict] = {}


def _usage_specs(version: RateCardVersion) -> dict:
    specs = _spec_cache.get(version.pk) if version.status == VersionStatus.ACTIVE else None
    if specs is None:
        specs = {code: pair for code, pair in version_price_specs(version).items() if pair[0].metric_id}
        if version.status == VersionStatus.ACTIVE:
            _spec_cache[version.pk] = specs
    return specs


def current_period(customer: Customer, as_of: dt.datetime) -> tuple[Period, dt.datetime, dt.datetime]:
    """The calendar month containing `as_of` in the customer's timezone (for customers without a contract)."""
    local_day = as_of.astimezone(zoneinfo.ZoneInfo(customer.timezone)).date()
    period = period_containing(dt.date(2000, 1, 1), Cadence.MONTHLY, local_day)
    start, end = period_bounds_utc(period, customer.timezone)
    return period, start, end


def current_usage(*, customer: Customer, as_of: dt.datetime, version: RateCardVersion | None = None) -> CurrentUsage:
    """Each metric's quantity in the current period and its cost so far.

    Priced with the customer's contract (its period, card version and terms) when it has one in effect,
    or with the given rate card version (then the period is the calendar month in the customer's timezone).
    """
    local_day = as_of.astimezone(zoneinfo.ZoneInfo(customer.timezone)).date()
    contract = contract_active_on(customer, local_day) if version is None else None
    if contract is not None:
        period = contract_period(contract, local_day)
        version = contract_card_version(contract, period)
        start, end = period_bounds_utc(period, customer.timezone)
        prices = {
            code: (p.product, p.spec, p.included)
            for code, p in contract_price_specs(contract, period).items()
            if p.product.metric_id
        }
    else:
        period, start, end = current_period(customer, as_of)
        prices = (
            {code: (product, spec, None) for code, (product, spec) in _usage_specs(version).items()} if version else {}
        )
    group_keys = {
        product.metric_id: spec.group_key
        for product, spec, _ in prices.values()
        if isinstance(spec, rating.DimensionalPriceSpec)
    }
    all_metrics = list(BillableMetric.objects.order_by("code"))
    measured = metrics_usage(customer_id=customer.pk, metrics=all_metrics, start=start, end=end, group_keys=group_keys)
    usage = [MetricUsage(metric, measured[metric.pk]) for metric in all_metrics]
    by_metric = {m.metric.pk: m for m in usage}
    lines, problems = [], []
    for code, (product, spec, included) in sorted(prices.items()):
        quantities = by_metric[product.metric_id].quantities
        if _needs_event_values(spec):
            quantities = metric_usage(
                customer_id=customer.pk, metric=product.metric, start=start, end=end, with_values=True
            )
        try:
            if isinstance(spec, rating.DimensionalPriceSpec):
                if included is not None:
                    spec = pricing.dimensional_with_included(
                        spec, {g: q.quantity for g, q in quantities.items()}, included
                    )
                rated = rating.rate_dimensional(spec, {g: _as_usage(q) for g, q in quantities.items()})
            else:
                rated = [rating.rate(spec, _as_usage(quantities.get("", GroupQuantity())))]
        except rating.RatingError as exc:  # e.g. usage for a model with no price: shown, never hidden
            problems.append(f"{code}: {exc}")
            continue
        lines += [CostLine(code, product.name, product.metric.code, line) for line in rated]
    return CurrentUsage(customer, period, start, end, usage, version, lines, problems, contract)


def _needs_event_values(spec) -> bool:
    return isinstance(spec, rating.PriceSpec) and (spec.min_per_event is not None or spec.max_per_event is not None)


def _as_usage(q: GroupQuantity) -> rating.Usage:
    return rating.Usage(q.quantity, q.event_count, tuple(q.values) if q.values else None)


def contract_usage_quantities(contract: Contract, period: Period) -> dict[str, Decimal | dict[str, Decimal]]:
    """Quantities per usage product of the contract's card over `period` (per group value for dimensional
    prices), in the shape contract previews take. Used by migration previews and, later, billing."""
    start, end = period_bounds_utc(period, contract.customer.timezone)
    quantities: dict[str, Decimal | dict[str, Decimal]] = {}
    batch = batch_for(contract)
    for code, price in contract_price_specs(contract, period).items():
        metric = price.product.metric
        if metric is None:
            continue
        key = price.spec.group_key if isinstance(price.spec, rating.DimensionalPriceSpec) else None
        if batch and metric.aggregation in ADDITIVE and _whole_hours(start, end):
            measured = _batch_usage(batch, contract.customer_id, metric, start, end, key)
        else:
            measured = metric_usage(
                customer_id=contract.customer_id, metric=metric, start=start, end=end, group_key=key
            )
        if key is None:
            quantities[code] = measured.get("", GroupQuantity()).quantity
        else:
            quantities[code] = {group: q.quantity for group, q in measured.items()}
    return quantities


def _whole_hours(start: dt.datetime, end: dt.datetime) -> bool:
    return rollups.bucket_of(start) == start and rollups.bucket_of(end) == end and start < end


def _batch_usage(batch, customer_id, metric, start, end, group_key) -> dict[str, GroupQuantity]:
    """A count, sum or max metric's quantities for one customer of a batch (contracts/prefetch.py): the
    rollups of every customer in the batch over [start, end) are read in one query, the first time asked."""
    _ensure_rollups(metric, end)
    totals = batch.remember(("usage", start, end), lambda: _batch_rollups(batch.customer_ids, start, end))
    result: dict[str, GroupQuantity] = {}
    for groups, count, value_sum, value_max in totals.get((customer_id, metric.pk), ()):
        value = groups.get(group_key) if group_key is not None else None
        group = "" if value is None else value if isinstance(value, str) else json.dumps(value)
        quantity = {"count": Decimal(count), "sum": value_sum, "max": value_max}[metric.aggregation]
        total = result.get(group)
        if total is None:
            result[group] = GroupQuantity(quantity=quantity, event_count=int(count))
        else:
            _merge(metric.aggregation, total, GroupQuantity(quantity=quantity, event_count=int(count)), later=True)
    return result


def _batch_rollups(customer_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[tuple[int, int], list]:
    """(customer, metric) -> [(groups, event count, sum, max)] per group combination, rollups and deltas."""
    where = "customer_id = ANY(%s) AND bucket >= %s AND bucket < %s"
    columns = "customer_id, metric_id, groups, event_count, value_sum, value_max"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT customer_id, metric_id, groups, sum(event_count), sum(value_sum), max(value_max) FROM ("
            f"SELECT {columns} FROM usage_usagerollup WHERE {where} "
            f"UNION ALL SELECT {columns} FROM usage_rollupdelta WHERE {where}) r "
            "GROUP BY customer_id, metric_id, groups",
            [customer_ids, start, end, customer_ids, start, end],
        )
        rows = cursor.fetchall()
    totals: dict[tuple[int, int], list] = {}
    for customer_id, metric_id, groups, count, value_sum, value_max in rows:
        if isinstance(groups, str):
            groups = json.loads(groups)
        totals.setdefault((customer_id, metric_id), []).append((groups, count, value_sum, value_max))
    return totals
