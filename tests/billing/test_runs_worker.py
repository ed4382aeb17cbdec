"""A period close through a real Celery worker on Redis makes the same invoices as the in-process run.

Two identical sets of contracts (same card, seats, usage): one is closed by `invoice_run` here, the other
by `invoice_run_start` with its chunks queued on the broker and closed by a worker process.
"""

import datetime as dt
import time
from contextlib import contextmanager
from decimal import Decimal as D

import pytest

from billing.models import Invoice, InvoiceRun
from billing.services.runs import invoice_run, invoice_run_start
from catalog.models import Product
from contracts.models import Customer
from contracts.services import contracts as svc
from revops.celery import app
from tests.revops.test_celery_broker import BROKER_URL, celery_worker_process  # noqa: F401 (a fixture)
from usage.services import usage_events_ingest

AS_OF = dt.datetime(2026, 4, 10, tzinfo=dt.UTC)


def twin_contracts(contract, prefix: str) -> list:
    """Three contracts with their own seats and AI credit usage (1,000 credits a month are included)."""
    seat, credits = Product.objects.get(code="seat"), Product.objects.get(code="credits")
    made = []
    for index, (seats, used) in enumerate([(3, 500), (7, 2500), (12, 40000)]):
        customer = Customer.objects.create(external_id=f"{prefix}{index}", name=f"{prefix} {index}", currency="USD")
        other = svc.contract_create(
            customer=customer,
            rate_card=contract.rate_card,
            start_date=dt.date(2026, 1, 1),
            actor=None,
            terms=svc.Terms(included_usage=[(credits, D(1000))]),
            subscriptions=[(seat, D(seats))],
        )
        svc.contract_activate(contract=other, actor=None)
        for month in (1, 2, 3):
            result = usage_events_ingest(
                events=[
                    {
                        "transaction_id": f"{prefix}{index}-{month}",
                        "customer": customer.external_id,
                        "event_type": "credits.used",
                        "timestamp": dt.datetime(2026, month, 12, tzinfo=dt.UTC).isoformat(),
                        "properties": {"credits": used * month},
                    }
                ],
                received_at=dt.datetime(2026, month, 20, tzinfo=dt.UTC),
            )
            assert result.count("accepted") == 1
        made.append(other)
    return made


def invoices_of(contracts) -> list[tuple]:
    rows = []
    for index, contract in enumerate(contracts):
        for invoice in Invoice.objects.filter(contract=contract).order_by("period_start", "kind"):
            lines = [(line.kind, line.description, line.quantity, line.amount) for line in invoice.lines.all()]
            rows.append((index, invoice.kind, invoice.period_start, invoice.status, invoice.total, lines))
    return rows


@contextmanager
def tasks_on_the_broker(client):
    """Shared tasks bind to the current Celery app: inside the block that is the worker fixture's client, so the
    chunks go through Redis to the worker process; the project's app (eager in tests) is current again after."""
    client.set_current()
    try:
        yield
    finally:
        app.set_current()


@pytest.mark.django_db(transaction=True)
def test_a_run_through_a_real_worker_makes_the_same_invoices_as_the_in_process_run(
    contract,
    celery_worker_process,  # noqa: F811
):
    worker, client = celery_worker_process
    here = twin_contracts(contract, "here")
    there = twin_contracts(contract, "there")

    local = invoice_run(as_of=AS_OF, contracts=here)  # in-process, PDFs too (no broker)
    # 3 contracts: the opening invoice, then January to March.
    assert (local.status, local.invoices_made, local.failures) == ("finished", 12, [])

    with tasks_on_the_broker(client):
        run = invoice_run_start(as_of=AS_OF, contracts=there, chunk_size=2)
    assert run.status == "running" and run.chunks_total == 2
    deadline = time.monotonic() + 120
    while run.status == "running" and time.monotonic() < deadline:
        time.sleep(0.3)
        run = InvoiceRun.objects.get(pk=run.pk)
    assert worker.poll() is None, worker.stdout.read().decode()
    assert (run.status, run.contracts_done, run.chunks_done) == ("finished", 3, 2)
    assert (run.invoices_created, run.invoices_made, run.failures) == (12, 12, [])

    assert invoices_of(there) == invoices_of(here)
    march = Invoice.objects.get(contract=there[2], period_start=dt.date(2026, 3, 1))
    # March's seats were billed in advance in February: March's 120,000 credits less 1,000 included at 0.01,
    # and April's 12 seats at 40 in advance.
    assert march.total == D("480.00") + D("1190.00")
