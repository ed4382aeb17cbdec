"""Named reads for webhooks: an endpoint, an event, a delivery, and the lists the API and admin show."""

from __future__ import annotations

from django.db.models import QuerySet

from billing.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from revops.errors import NotFound


def webhook_endpoint_get(*, pk: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {pk}", code="webhook_endpoint_not_found")
    return endpoint


def webhook_event_get(*, event_id: str) -> WebhookEvent:
    event = WebhookEvent.objects.filter(event_id=event_id).first()
    if event is None:
        raise NotFound(f"no webhook event {event_id}", code="webhook_event_not_found")
    return event


def webhook_deliveries(*, endpoint: int | None = None, event: str | None = None, status: str | None = None) -> QuerySet:
    deliveries = WebhookDelivery.objects.select_related("event", "endpoint").order_by("-created_at", "-pk")
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint)
    if event is not None:
        deliveries = deliveries.filter(event__event_id=event)
    if status is not None:
        deliveries = deliveries.filter(status=status)
    return deliveries


def webhook_delivery_get(*, pk: int) -> WebhookDelivery:
    delivery = webhook_deliveries().prefetch_related("attempts").filter(pk=pk).first()
    if delivery is None:
        raise NotFound(f"no webhook delivery {pk}", code="webhook_delivery_not_found")
    return delivery
