"""Exactly once under stress: concurrent resends, and requests that die half-way, against a real server.

These run revops under gunicorn in another process on the test database, and send real HTTP.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import os
import random
import signal
import threading
import time

import orjson
import psutil
import pytest
from django.contrib.auth import get_user_model

from contracts.models import Customer
from revops import apikeys, clock
from tests.support import gunicorn_server
from usage import rollups
from usage.models import UsageEvent
from usage.selectors import metric_usage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(transactional_db):
    from catalog.services import metrics
    from revops import clock

    Customer.objects.create(external_id="acme", name="Acme", currency="USD")
    metric = metrics.metric_create(
        code="tokens", name="Tokens", event_type="llm.completion", aggregation="sum", property="tokens", actor=None
    )
    rollups.rollups_build(metric=metric, as_of=clock.now())
    user = get_user_model().objects.create_user(username="svc-product")
    key = apikeys.api_key_create(name="product", user=user, scopes=["ingest"], actor=None).secret
    return metric, key


def metric_customer() -> int:
    return Customer.objects.get(external_id="acme").pk


def _event(i: int) -> dict:
    return {
        "transaction_id": f"evt-{i}",
        "customer": "acme",
        "event_type": "llm.completion",
        "properties": {"tokens": i % 97 + 1},
    }


def _post(port: int, key: str, body: bytes) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "POST",
        "/api/v1/events",
        body=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    data = response.read()
    conn.close()
    assert response.status == 200, data[:500]
    return orjson.loads(data)


def _assert_counted_once(metric, distinct: int) -> None:
    assert UsageEvent.objects.count() == distinct
    expected = sum(i % 97 + 1 for i in range(distinct))
    now = clock.now()
    total = metric_usage(
        customer_id=metric_customer(), metric=metric, start=now - dt.timedelta(days=1), end=now + dt.timedelta(days=1)
    )[""]
    assert (total.quantity, total.event_count) == (expected, distinct)


def test_a_resend_storm_counts_each_event_exactly_once(setup):
    metric, key = setup
    distinct = 3000
    with gunicorn_server(workers=3) as (port, _):

        def client(seed: int, results: list) -> None:
            rnd = random.Random(seed)
            accepted = 0
            for _ in range(12):  # overlapping batches with repeats inside and across them
                ids = [rnd.randrange(distinct) for _ in range(400)]
                result = _post(port, key, orjson.dumps([_event(i) for i in ids]))
                assert result["rejected"] == 0
                accepted += result["accepted"]
            results.append(accepted)

        results: list[int] = []
        threads = [threading.Thread(target=client, args=(seed, results)) for seed in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Then everything is resent once more, so every id has been sent at least once.
        final = [_post(port, key, orjson.dumps([_event(i) for i in range(s, s + 1000)])) for s in (0, 1000, 2000)]
    seen = UsageEvent.objects.count()
    assert sum(results) + sum(f["accepted"] for f in final) == seen == distinct
    _assert_counted_once(metric, distinct)


def test_a_request_whose_connection_drops_half_way_is_counted_once_when_retried(setup):
    metric, key = setup
    body = orjson.dumps([_event(i) for i in range(500)])
    with gunicorn_server(workers=1) as (port, _):
        import socket

        sock = socket.create_connection(("127.0.0.1", port))
        head = (
            f"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[: len(body) // 2])
        sock.close()  # the client dies mid-upload
        time.sleep(0.5)
        assert UsageEvent.objects.count() == 0  # a half body is never half stored
        result = _post(port, key, body)
    assert result["accepted"] == 500
    _assert_counted_once(metric, 500)


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.2])
def test_a_worker_killed_mid_request_loses_nothing_and_doubles_nothing(setup, delay):
    """Kill the worker at various moments of a batch; the client retries; every event counts once."""
    metric, key = setup
    body = orjson.dumps([_event(i) for i in range(1000)])
    with gunicorn_server(workers=1) as (port, server):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(
            "POST",
            "/api/v1/events",
            body=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        time.sleep(delay)
        for child in psutil.Process(server.pid).children():
            os.kill(child.pid, signal.SIGKILL)  # the worker dies: its transaction commits whole or not at all
        with contextlib.suppress(http.client.HTTPException, OSError):
            conn.getresponse().read()
        conn.close()
        deadline = time.monotonic() + 30  # gunicorn's arbiter starts a new worker
        while True:
            try:
                result = _post(port, key, body)
                break
            except (OSError, http.client.HTTPException, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    assert result["accepted"] + result["duplicates"] == 1000
    _assert_counted_once(metric, 1000)
