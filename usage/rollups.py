"""Rollups: hourly buckets per customer, metric and group, kept current by ingestion.

Which metrics ingestion rolls up comes from `MetricRollupState`: a metric's rollups are
built once from raw events (`rollups_build`), under an exclusive advisory lock that waits
for every in-flight ingest batch (each holds the lock shared). After that, every batch
adds its events to the rollups in its own transaction. So each event is counted in a
metric's rollups exactly once: by the build if it committed before, by its batch if after.
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

# One advisory lock key for "ingestion vs. rollup builds" (an arbitrary constant: 'revops' rollups).
INGEST_LOCK_KEY = 0x7265766F7073


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

_INSERT_UNIQUES = """
INSERT INTO usage_uniquevalue (customer_id, metric_id, bucket, groups, value)
SELECT c, m, b, g, v FROM json_to_recordset(%b::json) AS u(c bigint, m bigint, b timestamptz, g jsonb, v text)
ON CONFLICT DO NOTHING
"""

_ROLLUP_COLUMNS = ("c", "m", "b", "g", "n", "s", "x", "la", "le", "lv")


def _as_json(rows: list, columns: tuple[str, ...]) -> str:
    """Rows as a JSON array of objects. Decimals travel as strings (PostgreSQL parses them into numeric
    exactly); the groups column (index 3) is already JSON text and is embedded as is."""
    return orjson.dumps(
        [dict(zip(columns, (*row[:3], orjson.Fragment(row[3]), *row[4:]), strict=True)) for row in rows],
        default=str,
    ).decode()


def write_rows(cursor, rollup_rows: list, unique_rows: list) -> None:
    """Upsert rollups (sorted by key, so concurrent batches lock rows in one order) and distinct values."""
    if rollup_rows:
        cursor.execute(_UPSERT_ROLLUPS, [_as_json(rollup_rows, _ROLLUP_COLUMNS)])
    if unique_rows:
        cursor.execute(_INSERT_UNIQUES, [_as_json(unique_rows, ("c", "m", "b", "g", "v"))])


def add_batch(cursor, inserted: dict[str, int], candidates: list[Candidate]) -> None:
    """Add the events this batch inserted (transaction_id -> event id) to their metrics' rollups."""
    rows = (
        (inserted[c.transaction_id], c.customer_id, c.timestamp, c.contributions)
        for c in candidates
        if c.contributions and c.transaction_id in inserted
    )
    write_rows(cursor, *contributions_to_rows(rows))


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
        cursor.execute("DELETE FROM usage_usagerollup WHERE metric_id = %s", [metric.pk])
        cursor.execute("DELETE FROM usage_uniquevalue WHERE metric_id = %s", [metric.pk])
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
