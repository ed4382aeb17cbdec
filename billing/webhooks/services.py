"""Webhook services: register endpoints, emit events, replay them, send a test event.

`webhook_emit` is the one door for the rest of revops: it records the event (its body fixed once,
so every attempt sends the same bytes) and a delivery for each enabled endpoint that wants the
type, and hands the deliveries to a worker only once the caller's transaction commits, so a
rolled-back invoice never announces itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction

from billing.webhooks import addresses, payloads
from billing.webhooks.models import (
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from revops.errors import Conflict, ValidationError
from revops.history import stamp

SECRET_PREFIX = "whsec_"
SUBSCRIBABLE = [t for t in EventType.values if t != EventType.WEBHOOK_TEST]
ALL = "*"


@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str  # shown once: on creation and on rotation


def _new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except DjangoValidationError:
        message = "give a full http(s) URL, e.g. https://crm.example.com/hooks/revops"
        raise ValidationError(message, field="url") from None
    if url.lower().startswith("http://") and not (settings.DEBUG or settings.REVOPS_WEBHOOK_ALLOW_HTTP):
        raise ValidationError(
            "plain http is refused: use https (or set REVOPS_WEBHOOK_ALLOW_HTTP for a test setup)",
            code="insecure_url",
            field="url",
        )
    try:
        addresses.check_url(url)
    except addresses.RefusedAddress as exc:
        raise ValidationError(
            f"{exc} (set REVOPS_WEBHOOK_ALLOW_PRIVATE for a test setup)", code="private_address", field="url"
        ) from None
    return url


def clean_event_types(event_types: Iterable[str]) -> list[str]:
    wanted = list(event_types)
    if ALL in wanted:
        if len(wanted) > 1:
            raise ValidationError('"*" means every event type; give it alone', field="event_types")
        return []
    unknown = sorted(set(wanted) - set(SUBSCRIBABLE))
    if unknown:
        raise ValidationError(
            f"unknown event type(s) {', '.join(unknown)}; use {', '.join(SUBSCRIBABLE)} (or * for all)",
            code="unknown_event_type",
            field="event_types",
        )
    return sorted(set(wanted))


def _description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 200:
        raise ValidationError("keep the description within 200 characters", field="description")
    return description


@transaction.atomic
def webhook_endpoint_create(
    *,
    url: str,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None,
    description: str = "",
    event_types: Iterable[str] = (),
    enabled: bool = True,
) -> EndpointWithSecret:
    """Register an endpoint. Its signing secret is returned here and never again (rotate to get a new one)."""
    secret = _new_secret()
    endpoint = WebhookEndpoint(
        url=clean_url(url),
        description=_description(description),
        event_types=clean_event_types(event_types),
        enabled=enabled,
        secret=secret,
        created_at=as_of,
        created_by=actor,
    )
    stamp(endpoint, actor=actor, reason="webhook endpoint registered")
    endpoint.save()
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: AbstractBaseUser | None,
    url: str | None = None,
    description: str | None = None,
    event_types: Iterable[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (None leaves a field as it is). Pending deliveries keep going to the endpoint."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if url is not None:
        endpoint.url = clean_url(url)
    if description is not None:
        endpoint.description = _description(description)
    if event_types is not None:
        endpoint.event_types = clean_event_types(event_types)
    if enabled is not None:
        endpoint.enabled = enabled
    stamp(endpoint, actor=actor, reason="webhook endpoint changed")
    endpoint.save()
    return endpoint


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, actor: AbstractBaseUser | None) -> WebhookEndpoint:
    """Stop sending: new events skip it, and its pending deliveries fail when next due (replay them later)."""
    return webhook_endpoint_update(endpoint=endpoint, actor=actor, enabled=False)


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, as_of: dt.datetime, actor: AbstractBaseUser | None
) -> EndpointWithSecret:
    """A new signing secret, returned once. The old one still signs beside it for the overlap period, so a
    receiver can switch without rejecting events in between."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = _new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = as_of + dt.timedelta(hours=settings.REVOPS_WEBHOOK_SECRET_OVERLAP_HOURS)
    endpoint.secret = secret
    endpoint.secret_rotated_at = as_of
    stamp(endpoint, actor=actor, reason="webhook signing secret rotated")
    endpoint.save()
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: AbstractBaseUser | None) -> None:
    """Remove an endpoint with its deliveries and their attempts; the events stay (replayable elsewhere)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    stamp(endpoint, actor=actor, reason="webhook endpoint deleted")
    endpoint.delete()


# --- events and deliveries --------------------------------------------------------------------------------


def _timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _event_create(event_type: str, data: Any, as_of: dt.datetime) -> WebhookEvent:
    event = _event(event_type, data, as_of)
    event.save()
    return event


def _event(event_type: str, data: Any, as_of: dt.datetime) -> WebhookEvent:
    """An unsaved event: its id and body fixed now, so every attempt sends the same bytes."""
    event_id = f"msg_{secrets.token_hex(16)}"
    body = json.dumps(
        {"id": event_id, "type": event_type, "timestamp": _timestamp(as_of), "data": payloads.shape(data)},
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return WebhookEvent(event_id=event_id, type=event_type, occurred_at=as_of, body=body)


def _deliveries_create(
    events: list[WebhookEvent],
    endpoints: Iterable[WebhookEndpoint],
    as_of: dt.datetime,
    *,
    actor: AbstractBaseUser | None = None,
    replay_of: WebhookDelivery | None = None,
) -> list[WebhookDelivery]:
    endpoints = list(endpoints)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            event=event,
            endpoint=endpoint,
            status=DeliveryStatus.PENDING,
            next_attempt_at=as_of,
            created_at=as_of,
            created_by=actor,
            replay_of=replay_of,
        )
        for event in events
        for endpoint in endpoints
    )
    ids = [d.pk for d in deliveries]
    if ids:
        transaction.on_commit(lambda: _enqueue(ids))
    return deliveries


def _enqueue(delivery_ids: list[int]) -> None:
    from billing.webhooks.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)


@transaction.atomic
def webhook_emit(*, event_type: str, data: Any, as_of: dt.datetime) -> WebhookEvent:
    """Record an event and queue it for every enabled endpoint that wants its type.

    `data` is a dict, or an invoice, credit note or rate card version (sent as the API shows it).
    """
    return webhook_emit_many(event_type=event_type, items=[data], as_of=as_of)[0]


def webhook_emit_many(*, event_type: str, items: list[Any], as_of: dt.datetime) -> list[WebhookEvent]:
    """`webhook_emit` for several objects at once (a period close's invoices): the same events and
    deliveries, stored with one insert each and handed to the workers once the transaction commits."""
    if event_type not in SUBSCRIBABLE:
        raise ValidationError(f"unknown event type {event_type}", code="unknown_event_type", field="event_type")
    shaped = payloads.shape_many(items)
    events = WebhookEvent.objects.bulk_create(_event(event_type, data, as_of) for data in shaped)
    endpoints = [e for e in WebhookEndpoint.objects.filter(enabled=True) if e.wants(event_type)]
    if endpoints:
        _deliveries_create(events, endpoints, as_of)
    return events


@transaction.atomic
def webhook_endpoint_test(
    *, endpoint: WebhookEndpoint, as_of: dt.datetime, actor: AbstractBaseUser | None
) -> WebhookDelivery:
    """Send a `webhook.test` event to this one endpoint, so its owner can check the URL and the signature."""
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled; enable it to send it a test event", code="endpoint_disabled")
    data = {"endpoint": endpoint.pk, "message": "a test event from revops; no action is needed"}
    event = _event_create(EventType.WEBHOOK_TEST, data, as_of)
    return _deliveries_create([event], [endpoint], as_of, actor=actor)[0]


@transaction.atomic
def webhook_event_replay(
    *,
    event: WebhookEvent,
    endpoint: WebhookEndpoint,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None,
    replay_of: WebhookDelivery | None = None,
) -> WebhookDelivery:
    """Deliver an event again to an endpoint: a new delivery with its own attempts, the same id and body."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.enabled:
        raise Conflict("the endpoint is disabled; enable it before replaying to it", code="endpoint_disabled")
    return _deliveries_create([event], [endpoint], as_of, actor=actor, replay_of=replay_of)[0]


def webhook_commit_drawn(*, balance: Any, before: Decimal, after: Decimal, as_of: dt.datetime) -> None:
    """Emit commit.low_balance when a draw-down takes a commitment from at or above its threshold to below it:
    once per crossing (a top-up above the line and a later draw-down below it is a new crossing)."""
    from contracts.models import BalanceKind

    if balance.kind != BalanceKind.COMMIT:
        return
    threshold = balance.amount * Decimal(settings.REVOPS_COMMIT_LOW_BALANCE_PERCENT) / Decimal(100)
    if before >= threshold > after:
        data = payloads.commit_low_balance_data(balance, remaining=after, threshold=threshold)
        webhook_emit(event_type=EventType.COMMIT_LOW_BALANCE, data=data, as_of=as_of)
