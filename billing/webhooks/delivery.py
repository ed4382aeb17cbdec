"""Sending: sign (Standard Webhooks), POST, record the attempt, schedule the next one or give up.

Retries follow RETRY_DELAYS, measured from the attempt before: 5 s, 5 min, 30 min, 2 h, 5 h, then
10 h six times, then 14 h: 13 attempts over 81 h 35 min 5 s, so a receiver that is down over a long
weekend (72 h) still gets the event. A 2xx answer is success; anything else, a redirect included,
is a failure.

An attempt runs under a row lock taken with SKIP LOCKED, and only when the delivery is pending and
due, so a countdown task and the sweep that both pick it up never send it twice at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from billing.webhooks import addresses
from billing.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from billing.webhooks.services import SECRET_PREFIX

RETRY_DELAYS: tuple[dt.timedelta, ...] = (
    dt.timedelta(seconds=5),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=5),
    *[dt.timedelta(hours=10)] * 6,
    dt.timedelta(hours=14),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Longer waits are left to the sweep: a broker may lose a countdown task on restart, and Redis
# hands an unacknowledged one out again after its visibility timeout (an hour by default).
COUNTDOWN_MAX = dt.timedelta(minutes=10)
EXCERPT_BYTES = 1024
USER_AGENT = "revops-webhooks/1"


def sign(*, secret: str, event_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the secret's decoded bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{event_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(endpoint: WebhookEndpoint, at: dt.datetime) -> list[str]:
    """The current secret, and during the overlap after a rotation the previous one too."""
    found = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and at < endpoint.previous_secret_expires_at:
        found.append(endpoint.previous_secret)
    return found


def headers_for(*, endpoint: WebhookEndpoint, event_id: str, body: str, at: dt.datetime) -> dict[str, str]:
    timestamp = int(at.timestamp())
    signatures = " ".join(
        sign(secret=s, event_id=event_id, timestamp=timestamp, body=body) for s in signing_secrets(endpoint, at)
    )
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is answered as the failure it is, never followed with the signed body


_opener = urllib.request.build_opener(_NoRedirects, addresses.GuardedHTTPHandler, addresses.GuardedHTTPSHandler)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.monotonic()
    status, excerpt, error = None, b"", ""
    try:
        # Checked again at every attempt: the host's DNS answer may have changed since registration.
        addresses.check_url(url)
        with _opener.open(request, timeout=settings.REVOPS_WEBHOOK_TIMEOUT_SECONDS) as response:
            status, excerpt = response.status, response.read(EXCERPT_BYTES)
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            excerpt = exc.read(EXCERPT_BYTES)
        except OSError:
            excerpt = b""
    except addresses.RefusedAddress as exc:
        error = f"refused: {exc}"
    except TimeoutError:
        error = f"no answer within {settings.REVOPS_WEBHOOK_TIMEOUT_SECONDS:g} s"
    except urllib.error.URLError as exc:
        error = f"could not connect: {exc.reason}"
    except (OSError, ValueError, http.client.HTTPException) as exc:  # a reset connection, a malformed answer
        error = f"{exc.__class__.__name__}: {exc}"
    duration = int((time.monotonic() - started) * 1000)
    return Outcome(status, excerpt.decode("utf-8", "replace"), error[:500], duration)


def _due(as_of: dt.datetime) -> Q:
    """Pending, and either never tried (an event goes out as soon as it is recorded, also when it was recorded
    as of a test clock's time) or past the time its retry waits for."""
    return Q(status=DeliveryStatus.PENDING) & (Q(attempts_made=0) | Q(next_attempt_at__lte=as_of))


@transaction.atomic
def webhook_delivery_attempt(*, delivery_id: int, as_of: dt.datetime) -> WebhookAttempt | None:
    """Make the delivery's next attempt if it is pending, due and not being attempted right now (else None)."""
    delivery = (
        WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("event", "endpoint")
        .filter(_due(as_of), pk=delivery_id)
        .first()
    )
    if delivery is None:
        return None
    endpoint, event = delivery.endpoint, delivery.event
    if not endpoint.enabled:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        delivery.completed_at = as_of
        delivery.last_error = "the endpoint was disabled before this delivery was sent; replay it once enabled"
        delivery.save()
        return None
    headers = headers_for(endpoint=endpoint, event_id=event.event_id, body=event.body, at=as_of)
    outcome = _post(endpoint.url, event.body.encode(), headers)
    delivery.attempts_made += 1
    attempt = WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts_made,
        attempted_at=as_of,
        status_code=outcome.status_code,
        response_excerpt=outcome.excerpt,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
        succeeded=outcome.succeeded,
    )
    if outcome.succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.next_attempt_at = None
        delivery.completed_at = as_of
        delivery.last_error = ""
    else:
        delivery.last_error = outcome.error or f"answered {outcome.status_code}"
        if delivery.attempts_made >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            delivery.completed_at = as_of
        else:
            wait = RETRY_DELAYS[delivery.attempts_made - 1]
            delivery.next_attempt_at = as_of + wait
            if wait <= COUNTDOWN_MAX:
                transaction.on_commit(lambda: _retry_later(delivery.pk, wait))
    delivery.save()
    return attempt


def _retry_later(delivery_id: int, wait: dt.timedelta) -> None:
    from django.conf import settings as live

    from billing.webhooks.tasks import deliver_webhook

    if live.CELERY_TASK_ALWAYS_EAGER:
        return  # without a broker a countdown would run at once, before it is due; the sweep has it
    deliver_webhook.apply_async(args=[delivery_id], countdown=wait.total_seconds())


def webhook_deliveries_due(*, as_of: dt.datetime, limit: int = 1000) -> list[int]:
    """Pending deliveries whose next attempt is due, oldest first: what the sweep hands to workers."""
    return list(
        WebhookDelivery.objects.filter(_due(as_of))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
