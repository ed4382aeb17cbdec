"""Event ingestion, the hot path: parse, validate, resolve customers, work out rollup contributions.

This module decides, for each event of a batch, whether it is acceptable and what it adds to
which rollups; `usage/services.py` writes the outcome in one transaction. It is written for
speed (tens of thousands of events a second on two cores): plain dicts and tuples, orjson,
no serializer framework, one database round trip per concern per batch. The semantics of each
aggregation are those of catalog/metrics.py, whose matching and number parsing it reuses.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from catalog.metrics import EventValueError, MetricDefinition, _scalar, number

EVENT_FIELDS = frozenset({"transaction_id", "customer", "event_type", "timestamp", "properties"})
EVENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_ID_LENGTH = 128


class RequestError(Exception):
    """The request as a whole is unusable (not JSON, not a batch, too large). Nothing is ingested."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message, self.status, self.code, self.field = message, status, code, field


@dataclass(frozen=True)
class Limits:
    max_batch: int
    max_age: dt.timedelta
    max_future: dt.timedelta
    max_properties_bytes: int


@dataclass(frozen=True)
class ReadyMetric:
    """A metric whose rollups ingestion keeps (its rollups are built), or that only validates numbers."""

    id: int
    definition: MetricDefinition
    rolls_up: bool  # time-weighted sums are computed from raw events, not rollups
    unique: bool


@dataclass
class Candidate:
    """An event that passed validation, waiting to be inserted."""

    index: int
    transaction_id: str
    customer_id: int
    event_type: str
    timestamp: dt.datetime
    properties_json: bytes  # canonical JSON (sorted keys), embedded as is in the insert
    payload_hash: str
    # (metric_id, groups_json, numeric value or None, unique value or None) per matching metric
    contributions: list[tuple[int, str, Decimal | None, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Rejection:
    index: int
    transaction_id: str
    code: str
    message: str
    field: str | None
    raw: Any


def parse_batch(body: bytes, *, max_batch: int) -> list[Any]:
    """The events of a request body: `{"events": [...]}`, a bare list, or one event object."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the body is not valid JSON: {exc}", code="parse_error") from None
    if isinstance(data, dict) and "events" in data:
        extra = set(data) - {"events"}
        if extra:
            raise RequestError(f"unknown top-level field(s): {', '.join(sorted(extra))}", field=sorted(extra)[0])
        data = data["events"]
        if not isinstance(data, list):
            raise RequestError("`events` must be a list of events", field="events")
    elif isinstance(data, dict):
        data = [data]
    elif not isinstance(data, list):
        raise RequestError('send one event object, a list of events, or {"events": [...]}')
    if not data:
        raise RequestError("the batch is empty", field="events")
    if len(data) > max_batch:
        raise RequestError(
            f"a batch holds at most {max_batch} events; this one has {len(data)}", status=413, code="batch_too_large"
        )
    return data


def parse_timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("timestamp must be an RFC 3339 string such as 2026-11-24T10:00:00Z")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp (e.g. 2026-11-24T10:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset; add Z or +hh:mm")
    return moment.astimezone(dt.UTC)


def unique_text(value: Any) -> str:
    """A distinct-value key: strings stay strings, numbers compare by value (1 == 1.0), types never mix."""
    scalar = _scalar(value)
    if isinstance(scalar, Decimal):
        return "n:" + format(scalar.normalize(), "f")
    return "s:" + orjson.dumps(scalar).decode()


def groups_json(definition: MetricDefinition, properties: dict[str, Any]) -> str:
    return orjson.dumps(
        {key: definition.group_of(properties, key) for key in definition.group_by}, option=orjson.OPT_SORT_KEYS
    ).decode()


class BatchValidator:
    """Validates the events of one batch against the limits, the known customers and the metrics."""

    def __init__(
        self,
        *,
        limits: Limits,
        now: dt.datetime,
        customers: dict[str, int],
        metrics: dict[str, list[ReadyMetric]],
        clock_times: dict[int, dt.datetime] | None = None,
    ) -> None:
        self.limits = limits
        self.now = now
        self.oldest = now - limits.max_age
        self.latest = now + limits.max_future
        # A customer on a test clock lives at the clock's time: its own "now" and accepted window, worked out once.
        self.clock_windows = {
            customer_id: (at, at - limits.max_age, at + limits.max_future)
            for customer_id, at in (clock_times or {}).items()
        }
        self.customers = customers
        self.metrics = metrics
        self.seen: dict[str, str] = {}  # transaction ids in this batch -> payload hash
        self._groups: dict[tuple, str] = {}  # (metric id, group values) -> groups JSON, built once per batch

    def _groups_json(self, metric: ReadyMetric, properties: dict[str, Any]) -> str:
        group_by = metric.definition.group_by
        if not group_by:
            return "{}"
        group_of = metric.definition.group_of
        if len(group_by) == 1:  # the common case, without building a generator per event
            key: tuple = (metric.id, group_of(properties, group_by[0]))
        else:
            key = (metric.id, *[group_of(properties, k) for k in group_by])
        found = self._groups.get(key)
        if found is None:
            found = self._groups[key] = groups_json(metric.definition, properties)
        return found

    @staticmethod
    def _reject(index: int, raw: Any, code: str, message: str, field_name: str | None = None) -> Rejection:
        txn = raw.get("transaction_id") if isinstance(raw, dict) else None
        return Rejection(index, txn if isinstance(txn, str) else "", code, message, field_name, raw)

    def check(self, index: int, raw: Any) -> Candidate | Rejection:
        reject = functools.partial(self._reject, index, raw)
        if not isinstance(raw, dict):
            return reject("invalid", "an event must be a JSON object")
        if not raw.keys() <= EVENT_FIELDS:
            unknown = sorted(raw.keys() - EVENT_FIELDS)
            return reject("unknown_field", f"unknown field(s) {', '.join(unknown)}", unknown[0])
        txn = raw.get("transaction_id")
        if not isinstance(txn, str) or not txn or len(txn) > MAX_ID_LENGTH:
            return reject(
                "invalid", f"transaction_id is required: a string of 1-{MAX_ID_LENGTH} characters", "transaction_id"
            )
        customer_ref = raw.get("customer")
        if not isinstance(customer_ref, str) or not customer_ref:
            return reject("invalid", "customer is required: the customer's external id or an ingest alias", "customer")
        customer_id = self.customers.get(customer_ref)
        if customer_id is None:
            return reject("unknown_customer", f"no customer with external id or alias {customer_ref!r}", "customer")
        event_type = raw.get("event_type")
        if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type):
            return reject("invalid", "event_type is required: 1-128 letters, digits and _ . : -", "event_type")
        sent_timestamp = raw.get("timestamp")
        window = self.clock_windows.get(customer_id) if self.clock_windows else None
        now, oldest, latest = window or (self.now, self.oldest, self.latest)
        if sent_timestamp is None:
            timestamp = now
        else:
            try:
                timestamp = parse_timestamp(sent_timestamp)
            except ValueError as exc:
                return reject("invalid_timestamp", str(exc), "timestamp")
            if timestamp < oldest:
                days = self.limits.max_age.days
                return reject(
                    "too_old", f"the timestamp is more than {days} days old; such usage is not accepted", "timestamp"
                )
            if timestamp > latest:
                seconds = int(self.limits.max_future.total_seconds())
                return reject("in_future", f"the timestamp is more than {seconds} seconds in the future", "timestamp")
        properties = raw.get("properties")
        if properties is None:
            properties = {}
        elif type(properties) is not dict:
            return reject("invalid", "properties must be a JSON object", "properties")
        properties_json = orjson.dumps(properties, option=orjson.OPT_SORT_KEYS)
        if len(properties_json) > self.limits.max_properties_bytes:
            return reject(
                "properties_too_large",
                f"properties take {len(properties_json)} bytes; the limit is {self.limits.max_properties_bytes}",
                "properties",
            )

        contributions = []
        for metric in self.metrics.get(event_type, ()):
            definition = metric.definition
            # The event type matched through the index of metrics by type; only the filters are left to check.
            if definition.filters and not all(f.matches(properties) for f in definition.filters):
                continue
            value = unique = None
            aggregation = definition.aggregation
            if aggregation == "unique_count":
                raw_value = properties.get(definition.property)
                if raw_value is None:
                    continue  # an event without the property adds no distinct value (as in the reference)
                unique = unique_text(raw_value)
            elif aggregation != "count":
                try:
                    value = number(properties.get(definition.property), property_name=definition.property)
                except EventValueError as exc:
                    return reject("invalid_property", f"{exc} (metric needs it)", f"properties.{definition.property}")
            if metric.rolls_up:
                contributions.append((metric.id, self._groups_json(metric, properties), value, unique))

        # The fingerprint of what was sent: a resend matches it, another event reusing the id does not.
        stamp = timestamp.isoformat() if sent_timestamp is not None else ""
        digest = hashlib.blake2b(
            b"\x1f".join([str(customer_id).encode(), event_type.encode(), stamp.encode(), properties_json]),
            digest_size=16,
        ).hexdigest()
        earlier = self.seen.get(txn)
        if earlier is not None:
            if earlier == digest:
                return reject("duplicate", "this transaction_id appears earlier in the same batch")
            return reject(
                "conflict",
                "this transaction_id appears earlier in the same batch with another payload",
                "transaction_id",
            )
        self.seen[txn] = digest
        return Candidate(index, txn, customer_id, event_type, timestamp, properties_json, digest, contributions)
