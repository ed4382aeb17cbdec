"""Rollups: hourly buckets per customer, metric and group, kept current by ingestion.

Which metrics ingestion rolls up comes from `MetricRollupState`: a metric's rollups are
built once from raw events (`rollups_build`), under an exclusive advisory lock that waits
for every in-flight ingest batch (each holds the lock shared). After that, every batch
adds its events in its own transaction. So each event is counted in a metric's rollups
exactly once: by the build if it committed before, by its batch if after.

A batch appends what it adds as delta rows (`RollupDelta`, `UniqueValueDelta`) instead of
updating rollup rows in place: concurrent batches for the same customers would otherwise
wait on each other's row locks until commit, which serialized ingestion. `rollups_compact`
folds the deltas into the rollups (moving rows in one transaction, so nothing is counted
twice or lost), and readers add up rollups and deltas.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable
from decimal import Decimal

import orjson
import psycopg
from django.db import connection, transaction

from catalog.metrics import EventValueError, number
from catalog.models import BillableMetric
from catalog.services.metrics import definition_of
from usage.ingest import Candidate, ReadyMetric, groups_json, unique_text
from usage.models import MetricRollupState

# Advisory lock keys (arbitrary constants): ingestion vs. rollup builds, and one compactor at a time.
INGEST_LOCK_KEY = 0x7265766F7073
COMPACT_LOCK_KEY = 0x7265766F7074
COMPACT_CHUNK = 100_000  # delta rows folded per transaction
COMPACT_EVERY = 25  # each process asks for a compaction after this many ingest batches (beat also runs it)


def definition_hash(metric: BillableMetric) -> str:
    definition = definition_of(metric)
    data = [
        definition.event_type,
        definition.aggregation,
        definition.property,
        [(f.property, f.operator, f.value) for f in definition.filters],
        list(definition.group_by),
        definition.time_unit,
    ]
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def bucket_of(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class MetricCache:
    """Metric definitions by event type, per process, refreshed when the catalog or a rollup build changes.

    Checked at the start of each batch with one cheap query (counts and latest change times),
    inside the batch's shared lock, so a batch never misses a metric whose rollups are built.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: tuple | None = None
        self._by_type: dict[str, list[ReadyMetric]] = {}
        self._pending: set[int] = set()
        self._requested: set[int] = set()  # pending metrics whose build this process already asked for
        self._batches = 0

    def get(self, cursor) -> tuple[dict[str, list[ReadyMetric]], set[int]]:
        cursor.execute(
            "SELECT pg_advisory_xact_lock_shared(%s), "
            "(SELECT count(*) FROM catalog_billablemetric), (SELECT max(updated_at) FROM catalog_billablemetric), "
            "(SELECT count(*) FROM usage_metricrollupstate), (SELECT max(built_at) FROM usage_metricrollupstate)",
            [INGEST_LOCK_KEY],
        )
        token = tuple(cursor.fetchone()[1:])
        with self._lock:
            if token != self._token:
                self._by_type, self._pending = _load_metrics()
                self._requested &= self._pending
                self._token = token
            return self._by_type, self._pending

    def count_batch(self) -> bool:
        """Count an ingest batch; True every COMPACT_EVERY batches (time for this process to ask for compaction)."""
        with self._lock:
            self._batches += 1
            return self._batches % COMPACT_EVERY == 0

    def to_request(self, pending: set[int]) -> set[int]:
        """The pending metrics whose build has not been asked for yet by this process (marks them asked)."""
        with self._lock:
            new = pending - self._requested
            self._requested |= new
            return new


def _load_metrics() -> tuple[dict[str, list[ReadyMetric]], set[int]]:
    states = dict(MetricRollupState.objects.values_list("metric_id", "definition_hash"))
    by_type: dict[str, list[ReadyMetric]] = {}
    pending: set[int] = set()
    for metric in BillableMetric.objects.all():
        tws = metric.aggregation == "time_weighted_sum"
        ready = tws or states.get(metric.id) == definition_hash(metric)
        if not ready:
            pending.add(metric.id)
        by_type.setdefault(metric.event_type, []).append(
            ReadyMetric(
                metric.id,
                definition_of(metric),
                rolls_up=ready and not tws,
                unique=metric.aggregation == "unique_count",
            )
        )
    return by_type, pending


metric_cache = MetricCache()


def contributions_to_rows(events: Iterable[tuple[int, int, dt.datetime, list]]) -> tuple[list, list]:
    """Fold (event_id, customer_id, timestamp, contributions) into rollup rows and distinct-value rows."""
    rollups: dict[tuple, list] = {}
    uniques: set[tuple] = set()
    for event_id, customer_id, timestamp, contributions in events:
        bucket = bucket_of(timestamp)
        for metric_id, groups, value, unique in contributions:
            key = (customer_id, metric_id, bucket, groups)
            row = rollups.get(key)
            if row is None:
                # event_count, value_sum, value_max, latest_at, latest_event_id, latest_value
                row = rollups[key] = [0, Decimal(0), None, None, None, None]
            row[0] += 1
            if value is not None:
                row[1] += value
                row[2] = value if row[2] is None or value > row[2] else row[2]
                if row[3] is None or (timestamp, event_id) > (row[3], row[4]):
                    row[3], row[4], row[5] = timestamp, event_id, value
            if unique is not None:
                uniques.add((customer_id, metric_id, bucket, groups, unique))
    return sorted((k + tuple(v) for k, v in rollups.items()), key=lambda r: r[:4]), sorted(uniques)


_UPSERT_ROLLUPS = """
INSERT INTO usage_usagerollup
    (customer_id, metric_id, bucket, groups, event_count, value_sum, value_max, latest_at, latest_event_id,
     latest_value)
SELECT c, m, b, g, n, s, x, la, le, lv
FROM json_to_recordset(%b::json) AS u(c bigint, m bigint, b timestamptz, g jsonb, n bigint, s numeric, x numeric,
                                      la timestamptz, le bigint, lv numeric)
"""

# How a folded row merges into an existing rollup row (used by builds and by compaction).
_ROLLUP_CONFLICT = """
ON CONFLICT (customer_id, metric_id, bucket, groups) DO UPDATE SET
    event_count = usage_usagerollup.event_count + EXCLUDED.event_count,
    value_sum = usage_usagerollup.value_sum + EXCLUDED.value_sum,
    value_max = GREATEST(usage_usagerollup.value_max, EXCLUDED.value_max),
    latest_value = CASE WHEN usage_usagerollup.latest_at IS NULL
                          OR (EXCLUDED.latest_at, EXCLUDED.latest_event_id)
                             > (usage_usagerollup.latest_at, usage_usagerollup.latest_event_id)
                        THEN EXCLUDED.latest_value ELSE usage_usagerollup.latest_value END,
    latest_event_id = CASE WHEN usage_usagerollup.latest_at IS NULL
                          OR (EXCLUDED.latest_at, EXCLUDED.latest_event_id)
                             > (usage_usagerollup.latest_at, usage_usagerollup.latest_event_id)
                        THEN EXCLUDED.latest_event_id ELSE usage_usagerollup.latest_event_id END,
    latest_at = CASE WHEN usage_usagerollup.latest_at IS NULL
                          OR (EXCLUDED.latest_at, EXCLUDED.latest_event_id)
                             > (usage_usagerollup.latest_at, usage_usagerollup.latest_event_id)
                        THEN EXCLUDED.latest_at ELSE usage_usagerollup.latest_at END
"""
_UPSERT_ROLLUPS += _ROLLUP_CONFLICT

_INSERT_UNIQUES = """
INSERT INTO usage_uniquevalue (customer_id, metric_id, bucket, groups, value)
SELECT c, m, b, g, v FROM json_to_recordset(%b::json) AS u(c bigint, m bigint, b timestamptz, g jsonb, v text)
ON CONFLICT DO NOTHING
"""


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _rollups_json(rows: list) -> str:
    """Rollup rows as JSON objects for json_to_recordset. Decimals travel as strings (PostgreSQL parses
    them into numeric exactly); groups are JSON text already and are embedded as is."""
    return orjson.dumps(
        [
            {
                "c": c,
                "m": m,
                "b": b,
                "g": orjson.Fragment(g),
                "n": n,
                "s": str(s),
                "x": _text(x),
                "la": la,
                "le": le,
                "lv": _text(lv),
            }
            for c, m, b, g, n, s, x, la, le, lv in rows
        ]
    ).decode()


def _uniques_json(rows: list) -> str:
    return orjson.dumps([{"c": c, "m": m, "b": b, "g": orjson.Fragment(g), "v": v} for c, m, b, g, v in rows]).decode()


_APPEND_DELTAS = """
INSERT INTO usage_rollupdelta
    (customer_id, metric_id, bucket, groups, event_count, value_sum, value_max, latest_at, latest_event_id,
     latest_value)
SELECT c, m, b, g, n, s, x, la, le, lv
FROM json_to_recordset(%b::json) AS u(c bigint, m bigint, b timestamptz, g jsonb, n bigint, s numeric, x numeric,
                                      la timestamptz, le bigint, lv numeric)
"""

_APPEND_UNIQUE_DELTAS = """
INSERT INTO usage_uniquevaluedelta (customer_id, metric_id, bucket, groups, value)
SELECT c, m, b, g, v FROM json_to_recordset(%b::json) AS u(c bigint, m bigint, b timestamptz, g jsonb, v text)
"""


def append_deltas(cursor, rollup_rows: list, unique_rows: list) -> None:
    """Append a batch's contributions; never waits for another batch."""
    if rollup_rows:
        cursor.execute(_APPEND_DELTAS, [_rollups_json(rollup_rows)])
    if unique_rows:
        cursor.execute(_APPEND_UNIQUE_DELTAS, [_uniques_json(unique_rows)])


def write_rows(cursor, rollup_rows: list, unique_rows: list) -> None:
    """Upsert rollups (sorted by key, so concurrent batches lock rows in one order) and distinct values."""
    if rollup_rows:
        cursor.execute(_UPSERT_ROLLUPS, [_rollups_json(rollup_rows)])
    if unique_rows:
        cursor.execute(_INSERT_UNIQUES, [_uniques_json(unique_rows)])


def add_batch(cursor, inserted: dict[str, int], candidates: list[Candidate]) -> None:
    """Add the events this batch inserted (transaction_id -> event id) to their metrics' rollups, as deltas."""
    rows = (
        (inserted[c.transaction_id], c.customer_id, c.timestamp, c.contributions)
        for c in candidates
        if c.contributions and c.transaction_id in inserted
    )
    append_deltas(cursor, *contributions_to_rows(rows))


@transaction.atomic
def rollups_build(*, metric: BillableMetric, as_of: dt.datetime) -> MetricRollupState:
    """Build (or rebuild) a metric's rollups from raw events. Waits for in-flight ingest batches."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # binary parameters, as in ingestion (see services)
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [INGEST_LOCK_KEY])
        metric = BillableMetric.objects.get(pk=metric.pk)
        wanted = definition_hash(metric)
        state = MetricRollupState.objects.filter(metric=metric).first()
        if state is not None and state.definition_hash == wanted:
            return state  # built meanwhile by someone else
        for table in ("usage_usagerollup", "usage_rollupdelta", "usage_uniquevalue", "usage_uniquevaluedelta"):
            cursor.execute(f"DELETE FROM {table} WHERE metric_id = %s", [metric.pk])
        definition = definition_of(metric)
        backfilled = skipped = 0
        if metric.aggregation != "time_weighted_sum":
            # A server-side cursor streams the events; properties come as text for orjson, which parses
            # them several times faster than the driver's json module.
            with psycopg.ServerCursor(connection.connection, "rollups_build") as events:
                events.itersize = 20_000
                events.execute(
                    "SELECT id, customer_id, timestamp, properties::text FROM usage_usageevent "
                    "WHERE event_type = %s ORDER BY id",
                    [metric.event_type],
                )
                while rows := events.fetchmany(20_000):
                    chunk = []
                    for event_id, customer_id, timestamp, properties in rows:
                        try:
                            contribution = _contribution(definition, metric.pk, orjson.loads(properties))
                        except EventValueError:
                            skipped += 1
                            continue
                        if contribution is not None:
                            chunk.append((event_id, customer_id, timestamp, [contribution]))
                    backfilled += len(chunk)
                    write_rows(cursor, *contributions_to_rows(chunk))
        state, _ = MetricRollupState.objects.update_or_create(
            metric=metric,
            defaults={
                "definition_hash": wanted,
                "built_at": as_of,
                "events_backfilled": backfilled,
                "events_skipped": skipped,
            },
        )
        return state


def _contribution(definition, metric_id: int, properties: dict) -> tuple | None:
    """What one stored event adds to a metric; EventValueError when it lacks the number the metric needs."""
    if not definition.matches({"event_type": definition.event_type, "properties": properties}):
        return None
    groups = groups_json(definition, properties)
    if definition.aggregation == "count":
        return (metric_id, groups, None, None)
    if definition.aggregation == "unique_count":
        value = properties.get(definition.property)
        return None if value is None else (metric_id, groups, None, unique_text(value))
    return (metric_id, groups, number(properties.get(definition.property), property_name=definition.property), None)


_COMPACT_ROLLUPS = """
WITH moved AS (
    DELETE FROM usage_rollupdelta WHERE id IN (SELECT id FROM usage_rollupdelta ORDER BY id LIMIT %(limit)s)
    RETURNING customer_id, metric_id, bucket, groups, event_count, value_sum, value_max, latest_at,
              latest_event_id, latest_value
), folded AS (
    SELECT customer_id, metric_id, bucket, groups, sum(event_count) AS n, sum(value_sum) AS s, max(value_max) AS x,
           (array_agg(latest_at ORDER BY latest_at DESC NULLS LAST, latest_event_id DESC NULLS LAST))[1] AS la,
           (array_agg(latest_event_id ORDER BY latest_at DESC NULLS LAST, latest_event_id DESC NULLS LAST))[1] AS le,
           (array_agg(latest_value ORDER BY latest_at DESC NULLS LAST, latest_event_id DESC NULLS LAST))[1] AS lv
    FROM moved GROUP BY customer_id, metric_id, bucket, groups
)
INSERT INTO usage_usagerollup
    (customer_id, metric_id, bucket, groups, event_count, value_sum, value_max, latest_at, latest_event_id,
     latest_value)
SELECT customer_id, metric_id, bucket, groups, n, s, x, la, le, lv FROM folded
"""

_COMPACT_UNIQUES = """
WITH moved AS (
    DELETE FROM usage_uniquevaluedelta
    WHERE id IN (SELECT id FROM usage_uniquevaluedelta ORDER BY id LIMIT %(limit)s)
    RETURNING customer_id, metric_id, bucket, groups, value
)
INSERT INTO usage_uniquevalue (customer_id, metric_id, bucket, groups, value)
SELECT DISTINCT customer_id, metric_id, bucket, groups, value FROM moved
ON CONFLICT DO NOTHING
"""


def rollups_compact(*, limit: int = COMPACT_CHUNK) -> int:
    """Fold up to `limit` delta rows of each kind into the rollups. Returns how many rollup deltas it moved.

    One compactor runs at a time (others return 0 at once); it holds the ingest lock shared, so it
    never overlaps a rollup build. Moving and merging happen in one transaction.
    """
    with transaction.atomic():
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s), pg_advisory_xact_lock_shared(%s)",
                [COMPACT_LOCK_KEY, INGEST_LOCK_KEY],
            )
            if not cursor.fetchone()[0]:
                return 0
            cursor.execute(_COMPACT_ROLLUPS + _ROLLUP_CONFLICT, {"limit": limit})
            moved = cursor.rowcount
            cursor.execute(_COMPACT_UNIQUES, {"limit": limit})
            return moved
