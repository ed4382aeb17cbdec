"""bench/current_usage: p50 and p99 latency of the current-usage API with 10 million events stored.

    .venv/bin/python bench/current_usage.py [--events 10000000] [--customers 1000] [--requests 1000]

Loads the events once with COPY into its own database (`revops_bench_usage`; later runs reuse
them), builds the rollups with the same code the app uses (timed), then starts revops under
gunicorn on 127.0.0.1 and asks `GET /api/v1/customers/<id>/usage?rate_card=standard-usd` for
random customers from a separate process, one request at a time, and prints the latencies.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

DB_NAME = "revops_bench_usage"

MODELS = ["lumen-small", "lumen-large", "lumen-vision"]


def event_rows(n: int, customer_ids: list[int], now: dt.datetime, seed: int):
    """(transaction_id, customer_id, event_type, timestamp, properties, payload_hash, received_at) rows."""
    import orjson

    rnd = random.Random(seed)
    span = 60 * 86400  # two months, so about half the events fall in the current period
    kinds = ["llm.completion"] * 6 + ["api.request"] * 2 + ["user.active", "credits.consumed"]
    for i in range(n):
        kind = kinds[i % 10]
        if kind == "llm.completion":
            props = {"model": MODELS[i % 3], "tokens": rnd.randrange(1, 5000), "user": f"u{i % 300}"}
        elif kind == "api.request":
            props = {"endpoint": "/v1/chat"}
        elif kind == "user.active":
            props = {"user_id": f"u{rnd.randrange(2000)}"}
        else:
            props = {"credits": rnd.randrange(1, 50)}
        at = now - dt.timedelta(seconds=rnd.randrange(span))
        yield (
            f"b{seed}-{i}",
            customer_ids[i % len(customer_ids)],
            kind,
            at,
            orjson.dumps(props).decode(),
            "0" * 32,
            at,
        )


def load_events(target: int, customer_ids: list[int], now: dt.datetime) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_usageevent")
        have = cursor.fetchone()[0]
    if have >= target:
        return 0.0
    print(f"loading {target - have:,} events with COPY ...", flush=True)
    t0 = time.perf_counter()
    connection.ensure_connection()
    raw = connection.connection
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY usage_usageevent (transaction_id, customer_id, event_type, timestamp, properties, "
            "payload_hash, received_at) FROM STDIN"
        ) as copy,
    ):
        for row in event_rows(target - have, customer_ids, now, seed=have):
            copy.write_row(row)
    raw.commit()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE usage_usageevent")
    return time.perf_counter() - t0


def client(base: str, key: str, customers: list[str], requests: int, seed: int) -> list[float]:
    import http.client
    from urllib.parse import urlparse

    url = urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    rnd = random.Random(seed)
    latencies = []
    for _ in range(requests):
        path = f"/api/v1/customers/{rnd.choice(customers)}/usage?rate_card=standard-usd"
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        body = response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {body[:300]!r}")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    common.setup_django(DB_NAME)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from catalog.models import BillableMetric
    from contracts.models import Customer
    from revops import apikeys, clock
    from usage import rollups

    call_command("migrate", verbosity=0)
    from demo.catalog import load_catalog

    now = clock.now()
    load_catalog(actor=None, as_of=now)
    for i in range(args.customers):
        Customer.objects.get_or_create(external_id=f"bench-{i}", defaults={"name": f"Bench {i}", "currency": "USD"})
    customers = [f"bench-{i}" for i in range(args.customers)]
    ids = list(Customer.objects.filter(external_id__in=customers).order_by("pk").values_list("pk", flat=True))
    load_seconds = load_events(args.events, ids, now)

    t0 = time.perf_counter()
    built = 0
    for metric in BillableMetric.objects.exclude(aggregation="time_weighted_sum"):
        state = rollups.MetricRollupState.objects.filter(metric=metric).first()
        if state is None or state.definition_hash != rollups.definition_hash(metric):
            built += rollups.rollups_build(metric=metric, as_of=now).events_backfilled
    build_seconds = time.perf_counter() - t0

    user, _ = get_user_model().objects.get_or_create(username="svc-bench-reader")
    key = apikeys.api_key_create(name="bench reader", user=user, scopes=["read"], actor=None).secret
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_usageevent")
        stored = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM usage_usagerollup")
        rollup_rows = cursor.fetchone()[0]
    connection.close()

    import multiprocessing as mp

    with common.production_server(workers=args.workers, db_name=DB_NAME) as base, mp.Pool(1) as pool:
        pool.apply(client, (base, key, customers, 50, 1))  # warm up each worker
        latencies = pool.apply(client, (base, key, customers, args.requests, 2))
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    p = statistics.quantiles(ms, n=100)
    rows = [
        ("events stored", f"{stored:,} ({args.customers:,} customers, two months)"),
        ("rollup rows", f"{rollup_rows:,}"),
    ]
    if load_seconds:
        rows.append(("COPY load", f"{load_seconds:.1f} s"))
    if built:
        rows.append(("rollup build", f"{built:,} events in {build_seconds:.1f} s = {built / build_seconds:,.0f}/s"))
    rows += [
        ("requests", f"{len(ms):,} sequential, random customers, rate card standard-usd"),
        ("p50", f"{p[49]:.1f} ms"),
        ("p99", f"{p[98]:.1f} ms"),
        ("max", f"{ms[-1]:.1f} ms"),
    ]
    common.report("bench/current_usage", rows)


if __name__ == "__main__":
    main()
