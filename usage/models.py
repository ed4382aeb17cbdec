"""Usage state: raw events (each transaction_id once), rejected events, and rollups kept current at ingest.

Raw events are the source of truth. Rollups are hourly buckets per customer, metric and
group, written in the same transaction as the events they count, so current usage and
invoice runs read buckets instead of scanning events. Distinct values for unique counts
have their own table, so unique counts stay exact across buckets.
"""

from __future__ import annotations

from django.db import models

from contracts.models import Customer


class JsonTextField(models.JSONField):
    """A JSON field stored as PostgreSQL `json` (checked text), not `jsonb`.

    Event properties are written once and read back whole into Python, never queried by key in
    SQL, so jsonb's binary conversion would only slow ingestion (about a quarter of the insert).
    """

    def db_type(self, connection) -> str:
        return "json"

    def from_db_value(self, value, expression, connection):
        # The driver already decodes `json` columns (Django only configures it to hand back jsonb as text).
        if value is None or isinstance(value, (dict, list, int, float, bool)):
            return value
        return super().from_db_value(value, expression, connection)


class UsageEvent(models.Model):
    """One usage event as accepted. Never updated; `transaction_id` is unique for as long as events are kept.

    `payload_hash` fingerprints what was sent (customer, type, timestamp if given, properties), so a
    resend is told apart from a different event reusing the id. `received_at` lets billing find late
    events that arrived after it finalized their period.
    """

    id = models.BigAutoField(primary_key=True)
    transaction_id = models.CharField(max_length=128)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", db_index=False)
    event_type = models.CharField(max_length=128)
    timestamp = models.DateTimeField()
    properties = JsonTextField(default=dict)
    payload_hash = models.CharField(max_length=32)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A constraint rather than `unique=True` on the field: for a unique CharField Django also adds a
            # second, LIKE-pattern index, which nothing here uses and which every insert would maintain.
            models.UniqueConstraint(fields=["transaction_id"], name="usage_event_transaction_id_key"),
        ]
        indexes = [
            # Every read is "this customer's events of a type in a time range". (Late events are found
            # through it too: billing filters that range on received_at.) Each extra index slows ingestion.
            models.Index(fields=["customer", "event_type", "timestamp"], name="usage_event_cust_type_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.transaction_id} {self.event_type} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class RejectedEvent(models.Model):
    """An event refused at ingestion, kept with its reason so nothing that arrives disappears silently."""

    received_at = models.DateTimeField(db_index=True)
    transaction_id = models.CharField(max_length=256, blank=True)
    customer_ref = models.CharField(max_length=256, blank=True)
    event_type = models.CharField(max_length=256, blank=True)
    code = models.CharField(max_length=64, db_index=True)
    reason = models.TextField()
    payload = models.JSONField(null=True)
    api_key_prefix = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.code}: {self.transaction_id or '(no id)'}"


class UsageRollup(models.Model):
    """An hour of one metric for one customer and group: count, sum, max and latest value of the events in it."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", db_index=False)
    metric = models.ForeignKey("catalog.BillableMetric", on_delete=models.PROTECT, related_name="+", db_index=False)
    bucket = models.DateTimeField(help_text="start of the hour (UTC)")
    groups = models.JSONField(default=dict, help_text="the metric's group-by values: {'model': 'large'}")
    event_count = models.BigIntegerField(default=0)
    value_sum = models.DecimalField(max_digits=38, decimal_places=12, default=0)
    value_max = models.DecimalField(max_digits=38, decimal_places=12, null=True)
    latest_at = models.DateTimeField(null=True)
    latest_event_id = models.BigIntegerField(null=True)
    latest_value = models.DecimalField(max_digits=38, decimal_places=12, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "metric", "bucket", "groups"], name="usage_rollup_key"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id}/{self.customer_id} {self.bucket:%Y-%m-%d %H:00} {self.groups}"


class RollupDelta(models.Model):
    """What one ingest batch added to a rollup, appended rather than merged.

    Concurrent batches touching the same customer, metric and hour would otherwise queue behind each
    other's row locks until commit; appending never waits. `usage.tasks.compact_rollups` folds deltas
    into UsageRollup every few seconds; reads add up both, so results are the same before and after.
    """

    id = models.BigAutoField(primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", db_index=False)
    metric = models.ForeignKey("catalog.BillableMetric", on_delete=models.PROTECT, related_name="+", db_index=False)
    bucket = models.DateTimeField()
    groups = models.JSONField(default=dict)
    event_count = models.BigIntegerField(default=0)
    value_sum = models.DecimalField(max_digits=38, decimal_places=12, default=0)
    value_max = models.DecimalField(max_digits=38, decimal_places=12, null=True)
    latest_at = models.DateTimeField(null=True)
    latest_event_id = models.BigIntegerField(null=True)
    latest_value = models.DecimalField(max_digits=38, decimal_places=12, null=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "metric", "bucket"], name="usage_delta_key")]

    def __str__(self) -> str:
        return f"delta {self.metric_id}/{self.customer_id} {self.bucket:%Y-%m-%d %H:00} {self.groups}"


class UniqueValueDelta(models.Model):
    """A distinct value as an ingest batch saw it, appended (duplicates allowed) until compaction dedups it."""

    id = models.BigAutoField(primary_key=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", db_index=False)
    metric = models.ForeignKey("catalog.BillableMetric", on_delete=models.PROTECT, related_name="+", db_index=False)
    bucket = models.DateTimeField()
    groups = models.JSONField(default=dict)
    value = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["customer", "metric", "bucket"], name="usage_unique_delta_key")]

    def __str__(self) -> str:
        return f"delta {self.metric_id}/{self.customer_id} {self.bucket:%Y-%m-%d %H:00} {self.value}"


class UniqueValue(models.Model):
    """A distinct value seen for a unique-count metric in an hour, so distinct counts over any range are exact."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+", db_index=False)
    metric = models.ForeignKey("catalog.BillableMetric", on_delete=models.PROTECT, related_name="+", db_index=False)
    bucket = models.DateTimeField()
    groups = models.JSONField(default=dict)
    value = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "metric", "bucket", "groups", "value"], name="usage_unique_value_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id}/{self.customer_id} {self.bucket:%Y-%m-%d %H:00} {self.value}"


class MetricRollupState(models.Model):
    """Which metric definitions have rollups built, so ingestion only adds to rollups that are complete.

    A metric's rollups are built from raw events once (under a lock that waits for in-flight ingest
    batches), after which every batch adds to them. `definition_hash` detects a changed definition,
    which rebuilds them.
    """

    metric = models.OneToOneField("catalog.BillableMetric", on_delete=models.CASCADE, related_name="+")
    definition_hash = models.CharField(max_length=64)
    built_at = models.DateTimeField()
    events_backfilled = models.BigIntegerField(default=0)
    events_skipped = models.BigIntegerField(
        default=0, help_text="stored events that lack a number this metric needs (sent before it existed)"
    )

    def __str__(self) -> str:
        return f"rollups of metric {self.metric_id} built {self.built_at:%Y-%m-%d %H:%M}"
