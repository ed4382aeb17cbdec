"""Usage tasks: thin wrappers that call services."""

from __future__ import annotations

from celery import shared_task

from catalog.models import BillableMetric
from revops import clock
from usage import rollups


@shared_task(name="usage.build_rollups")
def build_rollups(metric_id: int) -> int:
    """Build a metric's rollups from raw events (new or changed metric). Returns how many events it added."""
    metric = BillableMetric.objects.filter(pk=metric_id).first()
    if metric is None:
        return 0
    return rollups.rollups_build(metric=metric, as_of=clock.now()).events_backfilled


@shared_task(name="usage.build_missing_rollups")
def build_missing_rollups() -> int:
    """Periodic safety net: build rollups for any metric that has none yet (e.g. no events arrived since)."""
    built = 0
    for metric in BillableMetric.objects.exclude(aggregation="time_weighted_sum"):
        state = rollups.MetricRollupState.objects.filter(metric=metric).first()
        if state is None or state.definition_hash != rollups.definition_hash(metric):
            rollups.rollups_build(metric=metric, as_of=clock.now())
            built += 1
    return built


@shared_task(name="usage.compact_rollups")
def compact_rollups() -> int:
    """Fold rollup deltas appended by ingestion into the rollups (scheduled every few seconds by beat)."""
    moved = total = 0
    while (moved := rollups.rollups_compact()) > 0:
        total += moved
    return total
