"""Webhook tasks (registered through billing/tasks.py): one attempt of a delivery, and the minute sweep."""

from __future__ import annotations

from celery import shared_task

from billing.webhooks.delivery import webhook_deliveries_due, webhook_delivery_attempt
from revops import clock


@shared_task(name="billing.deliver_webhook")
def deliver_webhook(delivery_id: int) -> int | None:
    """Attempt one delivery if it is due and nobody else is attempting it. Returns the HTTP status, if any."""
    attempt = webhook_delivery_attempt(delivery_id=delivery_id, as_of=clock.now())
    return attempt.status_code if attempt else None


@shared_task(name="billing.sweep_webhooks")
def sweep_webhooks() -> int:
    """Every minute on beat: queue every delivery that is due (retries, and any a lost task left behind)."""
    due = webhook_deliveries_due(as_of=clock.now())
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
