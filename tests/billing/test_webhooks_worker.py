"""Delivery through a real Celery worker on Redis: the minute sweep, run by the worker, finds a retry that
is due and the worker sends it; the receiver verifies it with the reference `standardwebhooks` verifier."""

import datetime as dt
import time

import pytest
from django.db import transaction

from billing.webhooks.models import DeliveryStatus, WebhookDelivery
from billing.webhooks.services import webhook_emit
from tests.revops import test_celery_broker

celery_worker_process = test_celery_broker.celery_worker_process  # the fixture: a worker process on the broker


def test_the_sweep_is_scheduled_every_minute_in_celery_beat(db):
    from django_celery_beat.models import PeriodicTask

    sweep = PeriodicTask.objects.get(task="billing.sweep_webhooks")
    assert (sweep.interval.every, sweep.interval.period, sweep.enabled) == (1, "minutes", True)


@pytest.fixture
def celery_client(celery_worker_process):
    """The worker, and its client app made the current one: a task queued on commit goes through Redis to the
    worker process, as in production, not eagerly in this process. The project's app is current again after."""
    from revops.celery import app

    worker, client = celery_worker_process
    client.set_current()
    try:
        yield worker, client
    finally:
        app.set_current()


def _wait_for(predicate, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_deliveries_retries_and_the_sweep_run_on_a_real_worker(celery_client, webhook_endpoint, webhook_receiver):
    worker, client = celery_client
    webhook_receiver.answers = [500]
    # The worker fixture's client app is the current Celery app here, so the task queued on commit goes
    # through Redis to the worker process, as in production.
    with transaction.atomic():
        event = webhook_emit(event_type="invoice.paid", data={"id": 9, "total": "12.00"}, as_of=_now())
    delivery = WebhookDelivery.objects.get(event=event)
    # first try: 500; the worker queues the retry with a 5 s countdown and sends it again itself
    assert _wait_for(lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED)
    delivery.refresh_from_db()
    assert [a.status_code for a in delivery.attempts.order_by("number")] == [500, 200]
    gap = delivery.attempts.get(number=2).attempted_at - delivery.attempts.get(number=1).attempted_at
    assert gap >= dt.timedelta(seconds=5)
    assert [r.verified for r in webhook_receiver.received] == [True, True]
    assert webhook_receiver.received[0].body == webhook_receiver.received[1].body

    # A delivery whose queued task a broker lost (made here without queueing one) is found by the sweep.
    lost = WebhookDelivery.objects.create(
        event=event, endpoint=webhook_endpoint, next_attempt_at=_now(), created_at=_now()
    )
    assert client.send_task("billing.sweep_webhooks").get(timeout=60) == 1
    assert _wait_for(lambda: WebhookDelivery.objects.get(pk=lost.pk).status == DeliveryStatus.SUCCEEDED)
    assert len(webhook_receiver.received) == 3 and webhook_receiver.received[2].verified
    assert worker.poll() is None  # the worker did the sending, and is still running


def _now():
    from revops import clock

    return clock.now()
