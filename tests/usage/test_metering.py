"""Metering from rollups (plus raw edges) equals the reference aggregation over the same events, exactly."""

import datetime as dt
import random
from decimal import Decimal

import pytest

from catalog.metrics import aggregate
from catalog.services.metrics import definition_of, metric_create
from tests.usage.conftest import NOW
from usage.selectors import metric_usage
from usage.services import usage_events_ingest

pytestmark = pytest.mark.django_db
START = NOW - dt.timedelta(days=10)


def _random_events(seed: int, n: int = 600):
    rnd = random.Random(seed)
    events = []
    for i in range(n):
        at = START + dt.timedelta(seconds=rnd.randrange(0, 10 * 86400))
        props = {
            "tokens": rnd.choice([1, 7, 250, "12.5", 0.25]),
            "model": rnd.choice(["small", "large", None]),
            "user": rnd.choice(["u1", "u2", "u3", 4, 4.0, "4"]),
            "gb": rnd.randrange(0, 50),
        }
        if props["model"] is None:
            del props["model"]
        events.append(
            {
                "transaction_id": f"e{seed}-{i}",
                "customer": "acme",
                "event_type": "llm.completion",
                "timestamp": at.isoformat(),
                "properties": props,
            }
        )
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metering_matches_the_reference_over_ragged_ranges(acme, token_metrics, seed):
    events = _random_events(seed)
    result = usage_events_ingest(events=events, received_at=NOW)
    assert result.count("accepted") == len(events)
    stored = [
        {
            "event_type": e["event_type"],
            "timestamp": dt.datetime.fromisoformat(e["timestamp"]),
            "properties": e["properties"],
        }
        for e in events
    ]
    rnd = random.Random(seed)
    ranges = [(START, NOW)]  # whole hours
    for _ in range(4):  # ragged: partial hours at both ends, and ranges shorter than an hour
        a = START + dt.timedelta(seconds=rnd.randrange(0, 9 * 86400))
        ranges.append((a, a + dt.timedelta(seconds=rnd.randrange(60, 4 * 86400))))
    ranges.append((START + dt.timedelta(minutes=10), START + dt.timedelta(minutes=50)))
    for metric in token_metrics.values():
        definition = definition_of(metric)
        for key in [None, *definition.group_by]:
            for start, end in ranges:
                got = metric_usage(customer_id=acme.pk, metric=metric, start=start, end=end, group_key=key)
                want = aggregate(definition, stored, start=start, end=end, group_key=key)
                assert {g: q.quantity for g, q in got.items()} == {g: q.quantity for g, q in want.items()}, (
                    metric.code,
                    key,
                    start,
                    end,
                )
                if metric.aggregation != "unique_count":
                    assert {g: q.event_count for g, q in got.items()} == {g: q.event_count for g, q in want.items()}


@pytest.mark.parametrize("seed", [4, 5])
def test_metering_several_metrics_at_once_matches_one_by_one(acme, token_metrics, seed):
    from usage.selectors import metrics_usage

    usage_events_ingest(events=_random_events(seed, 300), received_at=NOW)
    metrics = list(token_metrics.values())
    keys = {token_metrics["tokens"].pk: "model"}
    for start, end in [(START, NOW), (START + dt.timedelta(minutes=30), NOW)]:  # whole hours, then ragged
        together = metrics_usage(customer_id=acme.pk, metrics=metrics, start=start, end=end, group_keys=keys)
        for metric in metrics:
            alone = metric_usage(
                customer_id=acme.pk, metric=metric, start=start, end=end, group_key=keys.get(metric.pk)
            )
            assert together[metric.pk] == alone, metric.code


def test_time_weighted_storage_is_metered_from_raw_events(acme):
    metric = metric_create(
        code="gbh",
        name="GB-hours",
        event_type="storage.level",
        aggregation="time_weighted_sum",
        property="gb",
        time_unit="hour",
        actor=None,
    )
    day = dt.timedelta(days=1)
    usage_events_ingest(
        events=[
            {
                "transaction_id": "s1",
                "customer": "acme",
                "event_type": "storage.level",
                "timestamp": (START - day).isoformat(),
                "properties": {"gb": 10},
            },
            {
                "transaction_id": "s2",
                "customer": "acme",
                "event_type": "storage.level",
                "timestamp": (START + day).isoformat(),
                "properties": {"gb": 4},
            },
        ],
        received_at=NOW,
    )
    # 10 GB for the first day (carried in) + 4 GB for the next 2 days: 240 + 192 = 432 GB-hours
    got = metric_usage(customer_id=acme.pk, metric=metric, start=START, end=START + 3 * day)
    assert got[""].quantity == Decimal(432)


def test_late_events_update_the_quantity_of_their_period(acme, token_metrics):
    usage_events_ingest(
        events=[
            {
                "transaction_id": "a",
                "customer": "acme",
                "event_type": "llm.completion",
                "timestamp": (START + dt.timedelta(hours=5)).isoformat(),
                "properties": {"tokens": 10, "model": "small", "user": "u"},
            }
        ],
        received_at=NOW,
    )
    # Arrives days later, for an hour whose rollup already exists.
    usage_events_ingest(
        events=[
            {
                "transaction_id": "b",
                "customer": "acme",
                "event_type": "llm.completion",
                "timestamp": (START + dt.timedelta(hours=5, minutes=30)).isoformat(),
                "properties": {"tokens": 5, "model": "small", "user": "v"},
            }
        ],
        received_at=NOW + dt.timedelta(days=3),
    )
    got = metric_usage(customer_id=acme.pk, metric=token_metrics["tokens"], start=START, end=NOW)
    assert got[""].quantity == 15
    users = metric_usage(customer_id=acme.pk, metric=token_metrics["users"], start=START, end=NOW)
    assert users[""].quantity == 2


def test_compaction_moves_deltas_into_rollups_without_changing_any_quantity(acme, token_metrics):
    from usage.models import RollupDelta, UniqueValueDelta, UsageRollup
    from usage.rollups import rollups_compact

    events = _random_events(7, 400)
    usage_events_ingest(events=events[:200], received_at=NOW)

    def snapshot():
        return {
            (m.code, key): {
                g: q.quantity
                for g, q in metric_usage(customer_id=acme.pk, metric=m, start=START, end=NOW, group_key=key).items()
            }
            for m in token_metrics.values()
            for key in [None, *m.group_by]
        }

    before = snapshot()
    assert RollupDelta.objects.exists() and UniqueValueDelta.objects.exists()
    assert rollups_compact() > 0
    assert not RollupDelta.objects.exists() and not UniqueValueDelta.objects.exists()
    assert UsageRollup.objects.exists()
    assert snapshot() == before
    # Later batches land as deltas again, on top of compacted rollups for the same hours.
    usage_events_ingest(events=events[200:], received_at=NOW)
    stored = [
        {
            "event_type": e["event_type"],
            "timestamp": dt.datetime.fromisoformat(e["timestamp"]),
            "properties": e["properties"],
        }
        for e in events
    ]
    for metric in token_metrics.values():
        want = aggregate(definition_of(metric), stored, start=START, end=NOW)
        got = metric_usage(customer_id=acme.pk, metric=metric, start=START, end=NOW)
        assert {g: q.quantity for g, q in got.items()} == {g: q.quantity for g, q in want.items()}
    rollups_compact()
    for metric in token_metrics.values():
        want = aggregate(definition_of(metric), stored, start=START, end=NOW)
        got = metric_usage(customer_id=acme.pk, metric=metric, start=START, end=NOW)
        assert {g: q.quantity for g, q in got.items()} == {g: q.quantity for g, q in want.items()}


def test_upkeep_tasks_are_scheduled_in_celery_beat(db):
    from django_celery_beat.models import PeriodicTask

    tasks = dict(PeriodicTask.objects.values_list("task", "interval__every"))
    assert tasks["usage.compact_rollups"] == 10
    assert tasks["usage.build_missing_rollups"] == 300
