"""Usage writes: ingest a batch of events (exactly once), build a metric's rollups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction

from usage import rollups
from usage.ingest import BatchValidator, Candidate, Limits, Rejection
from usage.models import RejectedEvent, RollupDelta, UniqueValue, UniqueValueDelta, UsageEvent, UsageRollup

# The batch travels as one JSON document that PostgreSQL unpacks into rows: far cheaper than binding
# seven arrays of a thousand values each from Python.
_INSERT_EVENTS = """
INSERT INTO usage_usageevent (transaction_id, customer_id, event_type, timestamp, properties, payload_hash, received_at)
SELECT t, c, e, ts, p, h, COALESCE(r, %b)
  FROM json_to_recordset(%b::json) AS u(t text, c bigint, e text, ts timestamptz, p json, h text, r timestamptz)
ON CONFLICT (transaction_id) DO NOTHING
RETURNING transaction_id, id
"""

# With each customer, its test clock's time (NULL for a real customer), so simulated customers cost no extra query.
_RESOLVE_CUSTOMERS = """
SELECT c.external_id, c.id, k.frozen_time FROM contracts_customer c
  LEFT JOIN contracts_testclock k ON k.id = c.test_clock_id WHERE c.external_id = ANY(%b)
UNION ALL
SELECT a.alias, a.customer_id, k.frozen_time FROM contracts_customeralias a
  JOIN contracts_customer c ON c.id = a.customer_id
  LEFT JOIN contracts_testclock k ON k.id = c.test_clock_id WHERE a.alias = ANY(%b)
"""


def limits(*, max_age: dt.timedelta | None = None) -> Limits:
    return Limits(
        max_batch=settings.REVOPS_EVENT_BATCH_MAX,
        max_age=max_age or dt.timedelta(days=settings.REVOPS_EVENT_MAX_AGE_DAYS),
        max_future=dt.timedelta(seconds=settings.REVOPS_EVENT_MAX_FUTURE_SECONDS),
        max_properties_bytes=settings.REVOPS_EVENT_PROPERTIES_MAX_BYTES,
    )


class EventOutcome(NamedTuple):  # a tuple: a thousand are made per batch, on the hot path
    index: int
    transaction_id: str
    status: str  # accepted | duplicate | rejected
    code: str | None = None
    message: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class IngestResult:
    outcomes: list[EventOutcome]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def usage_events_ingest(
    *,
    events: Sequence[Any],
    received_at: dt.datetime,
    api_key_prefix: str = "",
    max_age: dt.timedelta | None = None,
) -> IngestResult:
    """Ingest a batch: each event is accepted, reported as a duplicate, or rejected with a reason.

    One transaction. An event whose transaction_id was already stored is a duplicate if its
    payload matches and a conflict (rejected; the first one stands) if not. Accepted events
    are added to their metrics' rollups in the same transaction. Concurrent batches sending
    the same ids are serialized by the unique index, so each event counts once. `max_age` widens the
    accepted window for imports of history (the demo data, a migration from another system); the API
    always uses the configured window.
    """
    connection.ensure_connection()
    # A plain psycopg cursor on Django's connection (so, the same transaction). Django's own cursors quote
    # parameters into the SQL text on the client, which for a batch of a thousand events costs more than
    # the insert; this one sends the batch as one parameter, bound on the server.
    with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
        by_type, pending = rollups.metric_cache.get(cursor)
        refs = sorted({e["customer"] for e in events if isinstance(e, dict) and isinstance(e.get("customer"), str)})
        cursor.execute(_RESOLVE_CUSTOMERS, [refs, refs])
        customers: dict[str, int] = {}
        clock_times: dict[int, dt.datetime] = {}  # customers on a test clock live at its time
        for ref, customer_id, frozen_time in cursor.fetchall():
            customers[ref] = customer_id
            if frozen_time is not None:
                clock_times[customer_id] = frozen_time

        validator = BatchValidator(
            limits=limits(max_age=max_age),
            now=received_at,
            customers=customers,
            metrics=by_type,
            clock_times=clock_times,
        )
        checked = [validator.check(index, raw) for index, raw in enumerate(events)]
        candidates = sorted((c for c in checked if isinstance(c, Candidate)), key=lambda c: c.transaction_id)
        outcomes: dict[int, EventOutcome] = {}
        rejected: list[Rejection] = []
        for item in checked:
            if isinstance(item, Rejection):
                if item.code == "duplicate":
                    outcomes[item.index] = EventOutcome(item.index, item.transaction_id, "duplicate")
                else:
                    rejected.append(item)

        inserted: dict[str, int] = {}
        if candidates:
            # Sorted by transaction_id, so concurrent batches take the unique index's locks in one order.
            rows = [
                {
                    "t": c.transaction_id,
                    "c": c.customer_id,
                    "e": c.event_type,
                    "ts": c.timestamp,
                    "p": orjson.Fragment(c.properties_json),
                    "h": c.payload_hash,
                }
                for c in candidates
            ]
            if clock_times:  # a simulated customer's events arrive at its clock's time (NULL: the batch's)
                for row in rows:
                    if row["c"] in clock_times:
                        row["r"] = clock_times[row["c"]]
            cursor.execute(_INSERT_EVENTS, [received_at, orjson.dumps(rows).decode()])
            inserted = dict(cursor.fetchall())
        existing: dict[str, str] = {}
        if len(inserted) < len(candidates):
            cursor.execute(
                "SELECT transaction_id, payload_hash FROM usage_usageevent WHERE transaction_id = ANY(%b)",
                [[c.transaction_id for c in candidates if c.transaction_id not in inserted]],
            )
            existing = dict(cursor.fetchall())
        for c in candidates:
            if c.transaction_id in inserted:
                outcomes[c.index] = EventOutcome(c.index, c.transaction_id, "accepted")
            elif existing.get(c.transaction_id) == c.payload_hash:
                outcomes[c.index] = EventOutcome(c.index, c.transaction_id, "duplicate")
            else:
                rejected.append(
                    Rejection(
                        c.index,
                        c.transaction_id,
                        "conflict",
                        "this transaction_id was already used for a different event; the first one stands",
                        "transaction_id",
                        events[c.index],
                    )
                )
        rollups.add_batch(cursor, inserted, candidates)
        if rejected:
            _record_rejections(rejected, received_at=received_at, api_key_prefix=api_key_prefix)
            for r in rejected:
                outcomes[r.index] = EventOutcome(r.index, r.transaction_id, "rejected", r.code, r.message, r.field)
        if rollups.metric_cache.count_batch():  # every so many batches, fold the deltas in
            transaction.on_commit(_compact)
        to_build = rollups.metric_cache.to_request(pending)
        if to_build:  # metrics new since their rollups were built: build them once this batch is stored
            transaction.on_commit(lambda: _build_pending(to_build))
    return IngestResult([outcomes[i] for i in range(len(events))])


def _record_rejections(rejected: list[Rejection], *, received_at: dt.datetime, api_key_prefix: str) -> None:
    rows = []
    for r in rejected:
        raw = r.raw if isinstance(r.raw, dict) else {}
        rows.append(
            RejectedEvent(
                received_at=received_at,
                transaction_id=r.transaction_id[:256],
                customer_ref=str(raw.get("customer", ""))[:256],
                event_type=str(raw.get("event_type", ""))[:256],
                code=r.code,
                reason=r.message,
                payload=orjson.loads(orjson.dumps(r.raw, default=str)),
                api_key_prefix=api_key_prefix,
            )
        )
    RejectedEvent.objects.bulk_create(rows)


def _compact() -> None:
    from usage.tasks import compact_rollups

    compact_rollups.delay()


def _build_pending(metric_ids: set[int]) -> None:
    from usage.tasks import build_rollups

    for metric_id in sorted(metric_ids):
        build_rollups.delay(metric_id)


@transaction.atomic
def usage_customers_delete(*, customer_ids: list[int]) -> int:
    """Delete the usage of simulated customers (a test clock's), raw events and their rollups; returns the events."""
    for model in (RollupDelta, UniqueValueDelta, UniqueValue, UsageRollup):
        model.objects.filter(customer_id__in=customer_ids).delete()
    deleted, _ = UsageEvent.objects.filter(customer_id__in=customer_ids).delete()
    return deleted
