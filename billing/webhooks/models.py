"""Webhook endpoints, the events sent to them, and every delivery and attempt.

An event's body is stored once, as the exact text sent, so every attempt and replay carries the
same bytes (a JSON column would reorder keys). The signing secret has to be kept readable to sign
with; it is shown once, when made, and kept out of the history and the API's reads.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from simple_history.models import HistoricalRecords


class EventType(models.TextChoices):
    INVOICE_FINALIZED = "invoice.finalized", "Invoice finalized"
    INVOICE_VOIDED = "invoice.voided", "Invoice voided"
    INVOICE_PAID = "invoice.paid", "Invoice paid"
    CREDIT_NOTE_CREATED = "credit_note.created", "Credit note created"
    COMMIT_LOW_BALANCE = "commit.low_balance", "Commitment below its low-balance threshold"
    RATE_CARD_ACTIVATED = "rate_card.activated", "Rate card version activated"
    APPROVAL_REQUESTED = "approval.requested", "Approval requested (a change waits for approvers)"
    APPROVAL_DECIDED = "approval.decided", "Approval request approved, rejected, applied or failed"
    # Sent only on request, to one endpoint, whatever it subscribes to.
    WEBHOOK_TEST = "webhook.test", "Test event"


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    event_types = ArrayField(
        models.CharField(max_length=64, choices=EventType.choices),
        default=list,
        blank=True,
        help_text="the event types sent here; empty means every type",
    )
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, editable=False)
    # Kept for a while after a rotation and signed with too, so receivers can switch without losing events.
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["secret", "previous_secret"])

    class Meta:
        app_label = "billing"
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.event_types or event_type in self.event_types)


class WebhookEvent(models.Model):
    event_id = models.CharField(max_length=40, unique=True, help_text="msg_…; the webhook-id header")
    type = models.CharField(max_length=64, choices=EventType.choices)
    occurred_at = models.DateTimeField()
    body = models.TextField(help_text="the exact JSON text delivered, identical on every attempt")

    class Meta:
        app_label = "billing"
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["type", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint: attempted until a 2xx answer or the schedule runs out."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.PROTECT, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts_made = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="when pending: the next try is due")
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    replay_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replays")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        app_label = "billing"
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="pending") | models.Q(next_attempt_at__isnull=False),
                name="webhookdelivery_pending_has_next_attempt",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint.url}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField()
    succeeded = models.BooleanField()

    class Meta:
        app_label = "billing"
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_once_per_number")]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
