"""bench/invoice_run: the whole period close of 10,000 contracts with two Celery workers, and PDF time per invoice.

    .venv/bin/python bench/invoice_run.py [--contracts 10000] [--events 10000000] [--workers 2] [--chunk 100]
                                          [--pdf-sample 30] [--setup-only] [--next-month]

Keeps its own database (`revops_bench_runs`): the first run builds three rate cards (seats, a flat fee,
tokens per model, graduated and volume tiers, included usage), `--contracts` contracts on them through
the contract services (mixed terms: seats, included usage, minimums, commitments, credits, discounts),
loads `--events` usage events for October 2026 with COPY (customers drawn with a Zipf-like skew) and
builds their rollups with the app's own code. Later runs reuse all of it.

Each run first puts the period close back where it started (deletes the invoices, their documents and
the balance draw-downs earlier runs made), then starts `--workers` real Celery worker processes on
Redis (REVOPS_BENCH_BROKER_URL, default db 4) consuming the run queue. It first runs the close as of
1 October 01:00, which issues every contract's opening invoice (October's fees billed in advance, as the
hourly run does when contracts start; timed and printed apart), then the distributed close as of
5 November 2026 (every contract has October to invoice and finalize, with November's fees ahead) and
follows its progress in the database until the run is finished. Printed: contracts/s, invoices made and
finalized, total seconds, and the CPU seconds of the workers and of PostgreSQL during the close. Then the
PDF of a sample of the finalized invoices is rendered through the real task (`billing.render_invoice_pdf`,
in-process), and the mean and p95 per invoice are printed.

With `--next-month`, November gets as many events (loaded once, then every metric's rollups are built again
from all events), and November's close as of 5 December is timed after October's: the steady state, where
every contract has last month's invoice (late-usage checks, earlier invoices, balances drawn before).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

DB_NAME = os.environ.get("REVOPS_BENCH_DB", "revops_bench_runs")
BROKER = os.environ.get("REVOPS_BENCH_BROKER_URL", "redis://127.0.0.1:6379/4")
RUN_QUEUE = "bench-runs"
OCTOBER = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
OPENING_AS_OF = dt.datetime(2026, 10, 1, 1, tzinfo=dt.UTC)
CLOSE_AS_OF = dt.datetime(2026, 11, 5, tzinfo=dt.UTC)
NOVEMBER = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
NEXT_CLOSE_AS_OF = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
MODELS = ["lumen-small", "lumen-large", "lumen-vision"]

METRICS = [
    # code, event_type, aggregation, property, group_by
    ("tokens", "llm.completion", "sum", "tokens", ["model"]),
    ("api_calls", "api.request", "count", "", []),
    ("gpu_peak", "gpu.concurrency", "max", "gpus", []),
    ("credits", "credits.consumed", "sum", "credits", []),
]


def _prices(scale: D, variant: int) -> list[tuple[str, dict, list[dict], str, str]]:
    """(product, values, tiers, group_key, group_value): each card prices the same products its own way."""

    def m(value: str) -> D:
        return (D(value) * scale).quantize(D("0.000000000001")).normalize()

    graduated = [
        {"start": D(0), "up_to": D(100000), "unit_price": m("0.002"), "flat_fee": D(0)},
        {"start": D(100000), "up_to": D(1000000), "unit_price": m("0.0015"), "flat_fee": D(0)},
        {"start": D(1000000), "up_to": None, "unit_price": m("0.001"), "flat_fee": D(0)},
    ]
    volume = [
        {"start": D(0), "up_to": D(8), "unit_price": m("300"), "flat_fee": D(0)},
        {"start": D(8), "up_to": D(32), "unit_price": m("250"), "flat_fee": m("100")},
        {"start": D(32), "up_to": None, "unit_price": m("200"), "flat_fee": m("500")},
    ]
    prices = [
        ("seat", {"model": "per_unit", "unit_price": m("40")}, [], "", ""),
        ("platform-fee", {"model": "flat", "flat_amount": m("500")}, [], "", ""),
        ("credits", {"model": "per_unit", "unit_price": m("0.01")}, [], "", ""),
        ("gpu", {"model": "volume"}, volume, "", ""),
    ]
    if variant == 0:  # tokens per model, api calls graduated
        prices += [
            ("tokens", {"model": "per_unit", "unit_price": m("0.000002")}, [], "model", "lumen-small"),
            ("tokens", {"model": "per_unit", "unit_price": m("0.00001")}, [], "model", "lumen-large"),
            ("tokens", {"model": "per_unit", "unit_price": m("0.000004")}, [], "model", ""),
            ("api-calls", {"model": "graduated"}, graduated, "", ""),
        ]
    elif variant == 1:  # tokens graduated, api calls by volume
        prices += [
            ("tokens", {"model": "graduated"}, [{**t, "unit_price": t["unit_price"] / 500} for t in graduated], "", ""),
            ("api-calls", {"model": "volume"}, graduated, "", ""),
        ]
    else:  # tokens per unit, api calls in packages
        prices += [
            ("tokens", {"model": "per_unit", "unit_price": m("0.000005")}, [], "", ""),
            ("api-calls", {"model": "package", "package_size": D(1000), "package_price": m("1.5")}, [], "", ""),
        ]
    return prices


def setup_catalog():
    from catalog.models import Product, RateCard
    from catalog.services import metrics, products, rate_cards

    if RateCard.objects.filter(code__startswith="bench-").count() == 3:
        return list(RateCard.objects.filter(code__startswith="bench-").order_by("code"))
    made = {}
    for code, event_type, aggregation, prop, group_by in METRICS:
        made[code] = metrics.metric_create(
            code=code, name=code, event_type=event_type, aggregation=aggregation, property=prop,
            group_by=group_by, actor=None,
        )  # fmt: skip
    for code, name, kind, metric in [
        ("seat", "Platform seat", "subscription", None),
        ("platform-fee", "Platform fee", "recurring_fee", None),
        ("tokens", "LLM tokens", "usage", "tokens"),
        ("api-calls", "API calls", "usage", "api_calls"),
        ("gpu", "Peak GPUs", "usage", "gpu_peak"),
        ("credits", "AI credits", "usage", "credits"),
    ]:
        products.product_create(code=code, name=name, kind=kind, metric=made.get(metric), actor=None)
    cards = []
    for variant, (code, scale) in enumerate([("bench-a", D(1)), ("bench-b", D("1.1")), ("bench-c", D("0.9"))]):
        card = rate_cards.rate_card_create(code=code, name=code, currency="USD", actor=None)
        version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
        for product, values, tiers, group_key, group_value in _prices(scale, variant):
            rate_cards.price_set(
                version=version, product=Product.objects.get(code=product), values=values, tiers=tiers,
                group_key=group_key, group_value=group_value, actor=None,
            )  # fmt: skip
        rate_cards.rate_card_version_activate(version=version, actor=None, as_of=OCTOBER)
        cards.append(card)
    return cards


def setup_contracts(n: int, cards) -> None:
    """`n` customers with one active contract each from 1 October 2026, terms mixed by their number."""
    from django.db import transaction

    from catalog.models import Product
    from contracts.models import Contract, Customer
    from contracts.services import balances
    from contracts.services import contracts as svc

    have = Contract.objects.filter(customer__external_id__startswith="run-").count()
    if have >= n:
        return
    products = {p.code: p for p in Product.objects.all()}
    print(f"creating {n - have:,} contracts through the services ...", flush=True)
    t0 = time.perf_counter()
    for start in range(have, n, 500):
        with transaction.atomic():
            for i in range(start, min(start + 500, n)):
                customer = Customer.objects.create(
                    external_id=f"run-{i}", name=f"Bench customer {i}", currency="USD",
                    timezone="Europe/Berlin" if i % 10 == 0 else "UTC",
                )  # fmt: skip
                terms = svc.Terms(
                    included_usage=[(products["credits"], D(1000))] if i % 4 == 0 else None,
                    minimum_spend=D(2000) if i % 5 == 0 else None,
                    overrides=[svc.OverrideSpec(kind="discount", discount_percent=D(10))] if i % 9 == 0 else None,
                )
                subscriptions = [(products["seat"], D(1 + i % 50))]
                if i % 3 == 0:
                    subscriptions.append((products["platform-fee"], D(1)))
                contract = svc.contract_create(
                    customer=customer, rate_card=cards[i % 3], start_date=OCTOBER.date(), actor=None,
                    terms=terms, subscriptions=subscriptions,
                )  # fmt: skip
                svc.contract_activate(contract=contract, actor=None)
                if i % 6 == 0:
                    balances.balance_grant(
                        contract=contract, kind="commit", amount=D(1000), starts_on=OCTOBER.date(),
                        expires_on=dt.date(2027, 10, 1), as_of=OCTOBER, actor=None, name="annual commit",
                    )  # fmt: skip
                if i % 7 == 0:
                    balances.balance_grant(
                        contract=contract, kind="credit", amount=D(50), starts_on=OCTOBER.date(),
                        expires_on=dt.date(2027, 1, 1), as_of=OCTOBER, actor=None, name="goodwill",
                    )  # fmt: skip
        print(f"  {min(start + 500, n):,} contracts ({time.perf_counter() - t0:.0f} s)", flush=True)


def event_rows(n: int, customer_ids: list[int], seed: int, month: dt.datetime = OCTOBER, days: int = 31, tag="r"):
    """A month's events (October by default): customers drawn with weight 1/rank (a few large customers send
    most usage)."""
    import orjson

    rnd = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(customer_ids))]
    span = days * 86400
    kinds = ["llm.completion"] * 5 + ["api.request"] * 3 + ["gpu.concurrency", "credits.consumed"]
    batch = 100_000
    for start in range(0, n, batch):
        drawn = rnd.choices(customer_ids, weights=weights, k=min(batch, n - start))
        for j, customer_id in enumerate(drawn):
            i = start + j
            kind = kinds[i % 10]
            if kind == "llm.completion":
                props = {"model": MODELS[i % 3], "tokens": rnd.randrange(1, 5000)}
            elif kind == "api.request":
                props = {"endpoint": "/v1/chat"}
            elif kind == "gpu.concurrency":
                props = {"gpus": rnd.randrange(1, 40)}
            else:
                props = {"credits": rnd.randrange(1, 50)}
            at = month + dt.timedelta(seconds=rnd.randrange(span))
            yield (f"{tag}{seed}-{i}", customer_id, kind, at, orjson.dumps(props).decode(), "0" * 32, at)


def load_events(target: int, customer_ids: list[int], month: dt.datetime = OCTOBER) -> float:
    """COPY events into `month` until it holds `target`; returns the seconds it took (0 when none were missing)."""
    from django.db import connection

    days = 30 if month == NOVEMBER else 31
    end = month + dt.timedelta(days=days)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_usageevent WHERE timestamp >= %s AND timestamp < %s", [month, end])
        have = cursor.fetchone()[0]
    if have >= target:
        return 0.0
    print(f"loading {target - have:,} events of {month:%B} with COPY ...", flush=True)
    t0 = time.perf_counter()
    connection.ensure_connection()
    raw = connection.connection
    tag = "r" if month == OCTOBER else f"m{month:%m}-"
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY usage_usageevent (transaction_id, customer_id, event_type, timestamp, properties, "
            "payload_hash, received_at) FROM STDIN"
        ) as copy,
    ):
        for row in event_rows(target - have, customer_ids, seed=have, month=month, days=days, tag=tag):
            copy.write_row(row)
    raw.commit()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE usage_usageevent")
        # Events loaded with COPY bypass ingestion, which keeps rollups: have them built again from all events.
        cursor.execute("DELETE FROM usage_metricrollupstate")
    return time.perf_counter() - t0


def build_rollups() -> tuple[int, float]:
    from catalog.models import BillableMetric
    from usage import rollups

    t0 = time.perf_counter()
    built = 0
    for metric in BillableMetric.objects.order_by("code"):
        state = rollups.MetricRollupState.objects.filter(metric=metric).first()
        if state is None or state.definition_hash != rollups.definition_hash(metric):
            print(f"building rollups of {metric.code} ...", flush=True)
            built += rollups.rollups_build(metric=metric, as_of=NEXT_CLOSE_AS_OF).events_backfilled
    return built, time.perf_counter() - t0


def reset_close() -> None:
    """Undo earlier runs of the bench (its own database only): invoices are frozen by triggers once
    finalized, so they are removed with triggers off for this session, with what they drew down."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM contracts_ledgerentry WHERE kind <> 'grant'")
        for table in (
            "billing_invoicedocument",
            "billing_invoiceline",
            "billing_historicalinvoice",
            "billing_invoice",
            "billing_invoicerunchunk",
            "billing_invoicerun",
            "billing_invoicecounter",
        ):
            cursor.execute(f"DELETE FROM {table}")


def start_workers(n: int) -> list[subprocess.Popen]:
    env = {
        **common.bench_env(DB_NAME),
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
        "REVOPS_RUN_QUEUE": RUN_QUEUE,
    }
    workers = []
    for i in range(n):
        cmd = [sys.executable, "-m", "celery", "-A", "revops", "worker", "--pool=solo", "--loglevel=warning"]
        cmd += ["-Q", RUN_QUEUE, "--without-gossip", "--without-mingle", "--without-heartbeat"]
        cmd += ["-n", f"bench-runs-{i}-{os.getpid()}@%h"]
        workers.append(subprocess.Popen(cmd, cwd=common.ROOT, env=env))
    return workers


def process_cpu(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def postgres_cpu() -> float:
    """CPU seconds of this database's PostgreSQL server, not of other servers on the machine: its postmaster,
    its live backends, and the backends that already ended (a worker connects per task; their time is added
    to the postmaster's children times when they exit). Falls back to every postgres process."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0])
    try:
        server = backend.parent()
    except psutil.NoSuchProcess:
        return common.cpu_seconds()["postgres"]
    times = server.cpu_times()
    ended = times.children_user + times.children_system
    return ended + process_cpu([server.pid] + [p.pid for p in server.children(recursive=True)])


def queue_purge(queue: str) -> None:
    import redis

    redis.Redis.from_url(BROKER).delete(queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=100, help="contracts per chunk task")
    parser.add_argument("--pdf-sample", type=int, default=30)
    parser.add_argument("--setup-only", action="store_true")
    parser.add_argument(
        "--next-month",
        action="store_true",
        help="also load November's events (once) and time November's close after October's",
    )
    args = parser.parse_args()

    # This process queues the run's chunks on the broker (not eagerly) for the workers started below.
    os.environ.update(common.bench_env(DB_NAME))
    os.environ.update({"CELERY_BROKER_URL": BROKER, "CELERY_RESULT_BACKEND": BROKER, "REVOPS_RUN_QUEUE": RUN_QUEUE})
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from contracts.models import Customer

    call_command("migrate", verbosity=0)
    cards = setup_catalog()
    setup_contracts(args.contracts, cards)
    ids = list(Customer.objects.filter(external_id__startswith="run-").order_by("pk").values_list("pk", flat=True))
    load_seconds = load_events(args.events, ids)
    if args.next_month:
        load_seconds += load_events(args.events, ids, month=NOVEMBER)
    built, build_seconds = build_rollups()
    setup_rows = []
    if load_seconds:
        setup_rows.append(("COPY load", f"{load_seconds:.1f} s"))
    if built:
        setup_rows.append(("rollup build", f"{built:,} events in {build_seconds:.1f} s"))
    if setup_rows:
        common.report("bench/invoice_run setup", setup_rows)
    if args.setup_only:
        return
    run_close(args, connection)


def timed_close(as_of: dt.datetime, args, workers: list[subprocess.Popen]) -> tuple:
    """Start the distributed close as of `as_of` and follow it to its end: (run, seconds, worker CPU, PG CPU)."""
    from billing.models import InvoiceRun
    from billing.services.runs import invoice_run_start

    worker_cpu0 = process_cpu([w.pid for w in workers])
    pg_cpu0 = postgres_cpu()
    t0 = time.perf_counter()
    run = invoice_run_start(as_of=as_of, actor=None, chunk_size=args.chunk)
    last = -1
    while True:
        run = InvoiceRun.objects.get(pk=run.pk)
        if run.contracts_done != last:
            last = run.contracts_done
            print(f"\r  {as_of:%d %b}: {run.contracts_done:,}/{run.contracts_total:,} contracts", end="", flush=True)
        if run.status != "running":
            break
        if any(w.poll() is not None for w in workers):
            raise SystemExit("a worker died")
        time.sleep(0.2)
    seconds = time.perf_counter() - t0
    print()
    return run, seconds, process_cpu([w.pid for w in workers]) - worker_cpu0, postgres_cpu() - pg_cpu0


def close_rows(label: str, closed: tuple) -> list[tuple[str, str]]:
    run, seconds, worker_cpu, pg_cpu = closed
    return [
        (label, f"{seconds:.1f} s, {run.contracts_done / seconds:,.0f} contracts/s"),
        ("  invoices", f"{run.invoices_created:,} made, {run.invoices_made:,} finalized, {len(run.failures)} failures"),
        ("  CPU", f"workers {worker_cpu:.1f} s, PostgreSQL {pg_cpu:.1f} s (wall {seconds:.1f} s, 2 cores)"),
    ]


def run_close(args, connection) -> None:
    from billing.models import Invoice
    from billing.tasks import render_invoice_pdf

    reset_close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_usageevent")
        events = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM usage_usagerollup")
        rollup_rows = cursor.fetchone()[0]
        cursor.execute("VACUUM ANALYZE")
    queue_purge(RUN_QUEUE)
    queue_purge("celery")
    workers = start_workers(args.workers)
    closes = []
    try:
        time.sleep(8)  # let the workers import Django and connect, so their start is not timed
        # The contracts started on 1 October: their opening invoices (October's fees billed in advance) were
        # issued then, by the run of that hour. Timed apart: not part of the month-end close.
        closes.append(("opening invoices (1 Oct)", timed_close(OPENING_AS_OF, args, workers)))
        closes.append(("period close (Oct)", timed_close(CLOSE_AS_OF, args, workers)))
        if args.next_month:  # the steady state: every contract has last month's invoice
            closes.append(("next month (Nov)", timed_close(NEXT_CLOSE_AS_OF, args, workers)))
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
    # The PDFs the close queued for the default queue are not part of the close; a sample is timed below.
    queue_purge("celery")

    numbered = list(Invoice.objects.filter(number__isnull=False).order_by("?").values_list("pk", flat=True))
    sample = numbered[: args.pdf_sample + 1]
    pdf_times = []
    for index, invoice_id in enumerate(sample):
        t = time.perf_counter()
        render_invoice_pdf.apply(args=(invoice_id,), throw=True)
        if index:  # the first one loads fonts: a warm-up
            pdf_times.append((time.perf_counter() - t) * 1000)
    contracts = closes[-1][1][0].contracts_total
    rows = [
        ("data", f"{contracts:,} contracts on 3 rate cards, {events:,} events, {rollup_rows:,} rollup rows"),
        ("workers", f"{args.workers} Celery worker processes (solo pool) on {BROKER}, {args.chunk} contracts/chunk"),
    ]
    for label, closed in closes:
        rows += close_rows(label, closed)
    if pdf_times:
        p95 = statistics.quantiles(pdf_times, n=20)[18] if len(pdf_times) >= 2 else pdf_times[0]
        rows.append(
            (
                "PDF per invoice",
                f"mean {statistics.mean(pdf_times):.0f} ms, p95 {p95:.0f} ms ({len(pdf_times)} invoices)",
            )
        )
    common.report("bench/invoice_run", rows)


if __name__ == "__main__":
    main()
