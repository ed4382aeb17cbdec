"""Delivery over real HTTP: signatures checked by the reference `standardwebhooks` verifier, retries on the
documented schedule, every attempt recorded, the same bytes every time, failure after the last attempt."""

import datetime as dt
import itertools
import json
import socket
import threading

import pytest
from django.db import connections, transaction

from billing.webhooks import delivery as sending
from billing.webhooks.delivery import MAX_ATTEMPTS, RETRY_DELAYS, webhook_deliveries_due, webhook_delivery_attempt
from billing.webhooks.models import DeliveryStatus, WebhookDelivery
from billing.webhooks.services import (
    webhook_emit,
    webhook_endpoint_disable,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_test,
    webhook_event_replay,
)
from revops.errors import Conflict
from tests.billing.webhook_receiver import now

pytestmark = pytest.mark.django_db

DATA = {"invoice": 7, "total": "440.00", "note": "Grüße"}


def _emit(at: dt.datetime) -> WebhookDelivery:
    event = webhook_emit(event_type="invoice.finalized", data=DATA, as_of=at)
    return event.deliveries.get()


def test_a_delivery_is_signed_as_standard_webhooks_verifies_it(webhook_endpoint, webhook_receiver):
    receiver = webhook_receiver
    at = now()
    delivery = _emit(at)
    attempt = webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at)
    assert attempt is not None and attempt.status_code == 200 and attempt.succeeded
    [got] = receiver.received
    assert got.verified, got.error
    assert got.path == "/hooks/revops"
    assert got.headers["webhook-id"] == delivery.event.event_id
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert got.headers["content-type"] == "application/json"
    assert got.payload == {
        "id": delivery.event.event_id,
        "type": "invoice.finalized",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "data": DATA,
    }
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts_made, delivery.next_attempt_at) == (DeliveryStatus.SUCCEEDED, 1, None)
    assert delivery.completed_at == at


def test_a_tampered_body_or_another_secret_fails_the_reference_verifier(webhook_endpoint, webhook_receiver):
    receiver = webhook_receiver
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    at = now()
    delivery = _emit(at)
    webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at)
    [got] = receiver.received
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secret).verify(got.body.replace(b"440.00", b"4.00"), got.headers)
    other = "whsec_" + "QUJD" * 8
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(got.body, got.headers)


def test_a_500_then_a_200_is_retried_and_both_attempts_are_recorded(webhook_endpoint, webhook_receiver):
    receiver = webhook_receiver
    receiver.answers = [500]
    at = now()
    delivery = _emit(at)
    first = webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at)
    assert (first.status_code, first.succeeded) == (500, False)
    assert first.response_excerpt.startswith("receiver says no")
    assert len(first.response_excerpt) == sending.EXCERPT_BYTES  # an excerpt, not the whole answer
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at == at + dt.timedelta(seconds=5)
    assert delivery.last_error == "answered 500"
    # not due yet: nothing is sent
    assert webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at + dt.timedelta(seconds=4)) is None
    assert webhook_deliveries_due(as_of=at + dt.timedelta(seconds=4)) == []
    assert webhook_deliveries_due(as_of=delivery.next_attempt_at) == [delivery.pk]
    second = webhook_delivery_attempt(delivery_id=delivery.pk, as_of=delivery.next_attempt_at)
    assert (second.status_code, second.succeeded, second.number) == (200, True, 2)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts_made) == (DeliveryStatus.SUCCEEDED, 2)
    assert [(a.number, a.status_code) for a in delivery.attempts.all()] == [(1, 500), (2, 200)]
    assert all(a.duration_ms >= 0 for a in delivery.attempts.all())
    assert [r.verified for r in receiver.received] == [True, True]
    # the same bytes both times; only the timestamp and so the signature differ
    assert receiver.received[0].body == receiver.received[1].body == delivery.event.body.encode()
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]


def test_the_schedule_retries_for_at_least_72_hours():
    assert sum(RETRY_DELAYS, dt.timedelta()) >= dt.timedelta(hours=72)
    assert sum(RETRY_DELAYS, dt.timedelta()) == dt.timedelta(hours=81, minutes=35, seconds=5)
    assert list(RETRY_DELAYS[:5]) == [
        dt.timedelta(seconds=5),
        dt.timedelta(minutes=5),
        dt.timedelta(minutes=30),
        dt.timedelta(hours=2),
        dt.timedelta(hours=5),
    ]
    assert MAX_ATTEMPTS == len(RETRY_DELAYS) + 1 == 13


def test_never_a_2xx_is_tried_on_schedule_then_the_delivery_fails(webhook_endpoint, webhook_receiver):
    receiver = webhook_receiver
    receiver.answers = [503] * 100
    start = now()
    delivery = _emit(start)
    at = start
    for _ in range(MAX_ATTEMPTS):
        assert webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at) is not None
        delivery.refresh_from_db()
        if delivery.next_attempt_at is not None:
            at = delivery.next_attempt_at
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts_made == MAX_ATTEMPTS
    assert delivery.completed_at - start >= dt.timedelta(hours=72)
    times = list(delivery.attempts.values_list("attempted_at", flat=True))
    assert [later - earlier for earlier, later in itertools.pairwise(times)] == list(RETRY_DELAYS)
    assert len(receiver.received) == MAX_ATTEMPTS
    assert len({r.body for r in receiver.received}) == 1  # byte-identical every time
    # failed is final: nothing more is tried
    assert webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at + dt.timedelta(days=30)) is None
    assert len(receiver.received) == MAX_ATTEMPTS


def test_a_redirect_counts_as_a_failure_and_is_not_followed(webhook_endpoint, webhook_receiver):
    receiver = webhook_receiver
    receiver.answers = [302]
    at = now()
    attempt = webhook_delivery_attempt(delivery_id=_emit(at).pk, as_of=at)
    assert (attempt.status_code, attempt.succeeded) == (302, False)
    assert len(receiver.received) == 1


def test_a_network_error_is_recorded_and_retried(webhook_endpoint):
    endpoint = webhook_endpoint
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    endpoint.url = f"http://127.0.0.1:{dead}/hooks"
    endpoint.save()
    at = now()
    delivery = _emit(at)
    attempt = webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at)
    assert attempt.status_code is None and not attempt.succeeded
    assert attempt.error.startswith("could not connect")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error == attempt.error


def test_a_slow_receiver_times_out(webhook_endpoint, settings):
    endpoint = webhook_endpoint
    settings.REVOPS_WEBHOOK_TIMEOUT_SECONDS = 0.3
    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint.url = f"http://127.0.0.1:{silent.getsockname()[1]}/hooks"
        endpoint.save()
        at = now()
        attempt = webhook_delivery_attempt(delivery_id=_emit(at).pk, as_of=at)
    assert attempt.status_code is None
    assert attempt.error == "no answer within 0.3 s"
    assert attempt.duration_ms >= 300


def test_a_disabled_endpoint_gets_no_new_events_and_pending_ones_fail_unsent(webhook_endpoint, webhook_receiver):
    endpoint, receiver = webhook_endpoint, webhook_receiver
    at = now()
    pending = _emit(at)
    webhook_endpoint_disable(endpoint=endpoint, actor=None)
    assert webhook_delivery_attempt(delivery_id=pending.pk, as_of=at) is None
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.FAILED
    assert "disabled" in pending.last_error
    event = webhook_emit(event_type="invoice.paid", data=DATA, as_of=at)
    assert not event.deliveries.exists()
    assert receiver.received == []
    with pytest.raises(Conflict):
        webhook_event_replay(event=event, endpoint=endpoint, as_of=at, actor=None)


def test_replay_delivers_the_same_event_again_as_a_new_recorded_delivery(webhook_endpoint, webhook_receiver):
    endpoint, receiver = webhook_endpoint, webhook_receiver
    at = now()
    first = _emit(at)
    webhook_delivery_attempt(delivery_id=first.pk, as_of=at)
    again = webhook_event_replay(event=first.event, endpoint=endpoint, as_of=at, actor=None, replay_of=first)
    assert again.pk != first.pk and again.replay_of == first
    assert again.status == DeliveryStatus.PENDING
    webhook_delivery_attempt(delivery_id=again.pk, as_of=at)
    again.refresh_from_db()
    assert again.status == DeliveryStatus.SUCCEEDED
    assert again.attempts.count() == 1
    assert [r.verified for r in receiver.received] == [True, True]
    assert receiver.received[0].body == receiver.received[1].body
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert WebhookDelivery.objects.filter(event=first.event).count() == 2


def test_a_test_event_goes_to_that_endpoint_only(webhook_endpoint, webhook_receiver):
    endpoint, receiver = webhook_endpoint, webhook_receiver
    at = now()
    delivery = webhook_endpoint_test(endpoint=endpoint, as_of=at, actor=None)
    webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at)
    [got] = receiver.received
    assert got.verified
    assert got.payload["type"] == "webhook.test"
    assert got.payload["data"]["endpoint"] == endpoint.pk


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(webhook_endpoint, webhook_receiver, settings):
    endpoint, receiver = webhook_endpoint, webhook_receiver
    old = receiver.secret
    at = now()
    rotated = webhook_endpoint_rotate_secret(endpoint=endpoint, as_of=at, actor=None)
    assert rotated.secret.startswith("whsec_") and rotated.secret != old
    for secret in (old, rotated.secret):
        receiver.secret = secret
        delivery = _emit(at)
        webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at)
        assert receiver.received[-1].verified, receiver.received[-1].error
    assert len(receiver.received[-1].headers["webhook-signature"].split(" ")) == 2
    after = rotated.endpoint.previous_secret_expires_at
    assert after == at + dt.timedelta(hours=settings.REVOPS_WEBHOOK_SECRET_OVERLAP_HOURS)
    headers = sending.headers_for(endpoint=rotated.endpoint, event_id="msg_x", body="{}", at=after)
    assert headers["webhook-signature"].count("v1,") == 1  # the old secret no longer signs


@pytest.mark.django_db(transaction=True)
def test_a_delivery_locked_by_one_worker_is_not_attempted_by_another(webhook_endpoint, webhook_receiver):
    receiver = webhook_receiver
    receiver.answers = [500]  # emitting outside a test transaction sends at once (eagerly): let that one fail
    delivery = _emit(now())
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    at = delivery.next_attempt_at
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        assert webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at) is None
        assert len(receiver.received) == 1
    finally:
        release.set()
        holder.join(10)
    assert webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at).status_code == 200
    assert len(receiver.received) == 2


def test_the_body_is_stored_once_as_sent(webhook_endpoint):
    delivery = _emit(now())
    body = delivery.event.body
    assert json.loads(body)["data"] == DATA
    assert "Grüße" in body  # UTF-8 as is, not escaped
