"""bench/ingest: events per second through the API beside raw COPY + ON CONFLICT into PostgreSQL.

    .venv/bin/python bench/ingest.py [--events 300000] [--batch 1000] [--clients 4] [--workers 3]

Starts revops under gunicorn (DEBUG off) on 127.0.0.1, sends pre-built batches from separate
client processes over keep-alive connections, and reports accepted events per second. In the
same run it inserts the same number of rows (same shape, fresh transaction ids) straight into
the events table with COPY into a staging table and INSERT ... ON CONFLICT DO NOTHING, from the
same number of connections, and prints both rates and their ratio. Every API event is checked
to be accepted, and the table's row count is checked at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

MODELS = ["lumen-small", "lumen-large", "lumen-vision"]


def make_batches(
    run: str, n_events: int, batch: int, customers: list[str], now: dt.datetime, skew: float = 1.0
) -> list[list[dict]]:
    """Batches of llm.completion events from the last ten minutes. Customers are drawn with a Zipf-like
    skew (weight 1/rank^skew: a few large customers send most usage, as in practice); skew 0 spreads
    events evenly over all customers, the worst case for rollups (every batch touches every customer)."""
    rnd = random.Random(run)
    weights = [1 / (rank + 1) ** skew for rank in range(len(customers))]
    drawn = rnd.choices(customers, weights=weights, k=n_events)
    batches, current = [], []
    for i in range(n_events):
        current.append(
            {
                "transaction_id": f"{run}-{i}",
                "customer": drawn[i],
                "event_type": "llm.completion",
                "timestamp": (now - dt.timedelta(seconds=rnd.randrange(0, 600))).isoformat(),
                "properties": {"model": MODELS[i % 3], "tokens": rnd.randrange(1, 4000), "user": f"u{i % 500}"},
            }
        )
        if len(current) == batch:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def api_client(args) -> tuple[int, int]:
    """One client process: sends its bodies over one keep-alive connection; returns (accepted, problems)."""
    import http.client
    from urllib.parse import urlparse

    base, key, bodies, start_at = args
    url = urlparse(base)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    while time.time() < start_at:
        time.sleep(0.001)
    accepted = problems = 0
    import orjson

    for body in bodies:
        # A connection per request, as gunicorn's sync workers expect: each request then goes to
        # whichever worker is free, instead of queueing behind a busy worker that owns the connection.
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        conn.request("POST", "/api/v1/events", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status != 200:
            problems += 1
            if problems <= 3:
                print("HTTP", response.status, data[:300], file=sys.stderr)
            continue
        result = orjson.loads(data)
        accepted += result["accepted"]
        problems += result["rejected"] + result["duplicates"]
    return accepted, problems


def raw_client(args) -> int:
    """One raw-insert connection: COPY each batch into a staging table, then INSERT ... ON CONFLICT DO NOTHING."""
    import psycopg

    conninfo, rows_batches, start_at = args
    inserted = 0
    with psycopg.connect(**conninfo, autocommit=False) as conn:
        conn.execute(
            "CREATE TEMP TABLE staging (transaction_id text, customer_id bigint, event_type text, "
            "timestamp timestamptz, properties jsonb, payload_hash text, received_at timestamptz)"
        )
        conn.commit()
        while time.time() < start_at:
            time.sleep(0.001)
        for rows in rows_batches:
            with conn.cursor() as cur:
                with cur.copy("COPY staging FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(
                    "INSERT INTO usage_usageevent (transaction_id, customer_id, event_type, timestamp, properties,"
                    " payload_hash, received_at) SELECT * FROM staging ON CONFLICT (transaction_id) DO NOTHING"
                )
                inserted += cur.rowcount
                cur.execute("TRUNCATE staging")
            conn.commit()
    return inserted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--skew", type=float, default=1.0, help="Zipf skew of customers; 0 = uniform")
    args = parser.parse_args()

    common.setup_django()
    import orjson
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from contracts.models import Customer
    from revops import apikeys, clock

    call_command("migrate", verbosity=0)
    from demo.catalog import load_catalog

    load_catalog(actor=None, as_of=clock.now())  # the demo catalog: metrics over llm.completion events
    with connection.cursor() as cursor:  # every run starts from empty tables, so runs compare
        cursor.execute("TRUNCATE usage_usageevent, usage_usagerollup, usage_uniquevalue, usage_rejectedevent")
    for i in range(args.customers):
        Customer.objects.get_or_create(external_id=f"bench-{i}", defaults={"name": f"Bench {i}", "currency": "USD"})
    from usage.tasks import build_missing_rollups

    build_missing_rollups()
    user, _ = get_user_model().objects.get_or_create(username="svc-bench")
    key = apikeys.api_key_create(name="bench", user=user, scopes=["ingest"], actor=None).secret
    customers = [f"bench-{i}" for i in range(args.customers)]
    customer_ids = dict(Customer.objects.filter(external_id__in=customers).values_list("external_id", "id"))
    now = clock.now()
    run = f"{int(time.time())}"
    db = connection.settings_dict
    conninfo = {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or db.get("OPTIONS", {}).get("host"),
        "port": db.get("PORT") or None,
    }
    conninfo = {k: v for k, v in conninfo.items() if v}
    connection.close()

    # --- through the API
    batches = make_batches(f"api{run}", args.events, args.batch, customers, now, args.skew)
    bodies = [orjson.dumps({"events": b}) for b in batches]
    per_client = [bodies[i :: args.clients] for i in range(args.clients)]
    mean_body = sum(map(len, bodies)) / len(bodies)
    with common.production_server(workers=args.workers) as base:
        # warm up: each worker loads code and caches before the clock starts
        warm = [
            orjson.dumps({"events": b}) for b in make_batches(f"warm{run}", 20 * args.batch, args.batch, customers, now)
        ]
        with mp.Pool(args.clients) as pool:
            pool.map(api_client, [(base, key, warm[i :: args.clients], 0) for i in range(args.clients)])
            start_at = time.time() + 0.5
            t0 = time.perf_counter()
            cpu0 = common.cpu_seconds()
            results = pool.map(api_client, [(base, key, chunk, start_at) for chunk in per_client])
            api_seconds = time.perf_counter() - t0 - 0.5
            cpu1 = common.cpu_seconds()
    api_accepted = sum(a for a, _ in results)
    api_problems = sum(p for _, p in results)

    # --- raw COPY + ON CONFLICT, same rows and connection count
    raw_batches = []
    for b in make_batches(f"raw{run}", args.events, args.batch, customers, now, args.skew):
        raw_batches.append(
            [
                (
                    e["transaction_id"],
                    customer_ids[e["customer"]],
                    e["event_type"],
                    e["timestamp"],
                    orjson.dumps(e["properties"]).decode(),
                    "0" * 32,
                    now,
                )
                for e in b
            ]
        )
    per_conn = [raw_batches[i :: args.clients] for i in range(args.clients)]
    with mp.Pool(args.clients) as pool:
        start_at = time.time() + 0.5
        t0 = time.perf_counter()
        raw_inserted = sum(pool.map(raw_client, [(conninfo, chunk, start_at) for chunk in per_conn]))
        raw_seconds = time.perf_counter() - t0 - 0.5

    api_rate = api_accepted / api_seconds
    raw_rate = raw_inserted / raw_seconds
    common.report(
        "bench/ingest",
        [
            ("events", f"{args.events:,} in batches of {args.batch} (mean body {mean_body / 1024:.0f} KiB)"),
            ("setup", f"{args.clients} client processes, gunicorn {args.workers} sync workers, 2 cores shared"),
            ("customers", f"{args.customers}, Zipf skew {args.skew}"),
            ("API accepted", f"{api_accepted:,} in {api_seconds:.2f} s, problems: {api_problems}"),
            ("API rate", f"{api_rate:,.0f} events/s"),
            (
                "API CPU per 1,000 events",
                f"app {(cpu1['gunicorn'] - cpu0['gunicorn']) / api_accepted * 1e6:.1f} ms, "
                f"PostgreSQL {(cpu1['postgres'] - cpu0['postgres']) / api_accepted * 1e6:.1f} ms",
            ),
            ("raw COPY+ON CONFLICT", f"{raw_inserted:,} rows in {raw_seconds:.2f} s = {raw_rate:,.0f} rows/s"),
            ("ratio API/raw", f"{api_rate / raw_rate:.2f}"),
        ],
    )
    if api_accepted != args.events or api_problems:
        sys.exit("not every event was accepted exactly once")


if __name__ == "__main__":
    main()
