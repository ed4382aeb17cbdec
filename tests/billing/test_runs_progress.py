"""Period-close runs in chunks: progress recorded on the run, failures that let the others go on, and a run
picked up again after a crash that finishes what is missing and duplicates nothing.

Without a broker (as in these tests) the chunk tasks run in-process when the run is committed."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db.models import Count

from billing.models import Invoice, InvoiceRun, InvoiceRunChunk
from billing.services.runs import (
    STALE_AFTER,
    invoice_run,
    invoice_run_chunk_close,
    invoice_run_create,
    invoice_run_resume,
    invoice_run_start,
    invoice_runs_sweep,
)
from catalog.models import Product, RateCard
from catalog.services import rate_cards
from contracts.models import Customer
from contracts.services import contracts as svc
from tests.billing.support import T0

pytestmark = pytest.mark.django_db
AS_OF = dt.datetime(2026, 4, 10, tzinfo=dt.UTC)  # January to March are over and past their grace
# Each contract below started on 1 January with seats: as of AS_OF a run issues its opening invoice (January's
# seats in advance) and closes January, February and March: four invoices a contract.


def more_contracts(contract, seats: list[int]) -> list:
    """Contracts like the fixture's (same card, 1 January 2026), with their own number of seats."""
    seat = Product.objects.get(code="seat")
    made = [contract]
    for index, n in enumerate(seats):
        customer = Customer.objects.create(external_id=f"c{index}", name=f"Customer {index}", currency="USD")
        other = svc.contract_create(
            customer=customer,
            rate_card=contract.rate_card,
            start_date=dt.date(2026, 1, 1),
            actor=None,
            subscriptions=[(seat, D(n))],
        )
        svc.contract_activate(contract=other, actor=None)
        made.append(other)
    return made


def broken_contract() -> object:
    """A contract whose card has no price in effect before June: its early periods cannot be priced."""
    card = RateCard.objects.get(code="std")
    late = rate_cards.rate_card_create(code="late", name="Late", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=late, effective_from=dt.date(2026, 6, 1), actor=None)
    rate_cards.price_set(
        version=version, product=Product.objects.get(code="seat"), values={"model": "per_unit", "unit_price": D(1)},
        actor=None,
    )  # fmt: skip
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    assert card.pk != late.pk
    customer = Customer.objects.create(external_id="broken", name="Broken", currency="USD")
    contract = svc.contract_create(customer=customer, rate_card=late, start_date=dt.date(2026, 1, 1), actor=None)
    svc.contract_activate(contract=contract, actor=None)
    return contract


def no_duplicates() -> None:
    # One invoice per contract, kind and period (a contract's opening and first period invoices share a start).
    per_period = Invoice.objects.values("contract", "kind", "period_start").annotate(n=Count("pk"))
    assert not per_period.filter(n__gt=1).exists()


def test_a_distributed_run_records_its_progress_and_finishes(contract, django_capture_on_commit_callbacks):
    contracts = more_contracts(contract, [1, 2, 3, 4])
    with django_capture_on_commit_callbacks(execute=True):
        run = invoice_run_start(as_of=AS_OF, contracts=contracts, chunk_size=2)
    run.refresh_from_db()
    assert (run.status, run.contracts_total, run.contracts_done) == ("finished", 5, 5)
    assert (run.chunks_total, run.chunks_done) == (3, 3)
    assert (run.invoices_created, run.invoices_made, run.failures) == (20, 20, [])  # 5 contracts x 4
    assert run.started_at <= run.finished_at
    assert set(InvoiceRunChunk.objects.filter(run=run).values_list("status", "position")) == {("done", 2), ("done", 1)}
    # March's seats were billed in advance in February, no usage: each March invoice bills April's n x 40.00.
    totals = sorted(Invoice.objects.filter(period_start=dt.date(2026, 3, 1)).values_list("total", flat=True))
    assert totals == [D("40.00"), D("80.00"), D("120.00"), D("160.00"), D("400.00")]
    # The next run has nothing left to make: it counts the contracts, makes and finalizes nothing.
    again = invoice_run(as_of=AS_OF, contracts=contracts)
    assert (again.status, again.contracts_done, again.invoices_created, again.invoices_made) == ("finished", 5, 0, 0)


def test_progress_is_reported_contract_by_contract(contract):
    contracts = more_contracts(contract, [1, 2])
    seen = []
    invoice_run(as_of=AS_OF, contracts=contracts, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_failing_contract_is_recorded_and_the_others_go_on(contract, django_capture_on_commit_callbacks):
    broken = broken_contract()
    contracts = more_contracts(contract, [2])
    with django_capture_on_commit_callbacks(execute=True):
        run = invoice_run_start(as_of=AS_OF, contracts=[contracts[0], broken, contracts[1]], chunk_size=3)
    run.refresh_from_db()
    assert run.status == "finished"  # the chunk ended; the failure is the contract's, not the run's
    assert run.contracts_done == 3 and run.invoices_made == 8  # 2 contracts x 4; the broken one has no seats
    # Its opening invoice cannot be priced (whether it bills anything ahead): named once, and its periods wait.
    assert [(f["contract"], f["code"], f["message"]) for f in run.failures] == [
        (broken.pk, "no_price_version", "opening invoice: late has no version in effect on 2026-01-01"),
    ]
    assert not Invoice.objects.filter(contract=broken).exists()
    assert Invoice.objects.filter(contract__in=contracts, status="finalized").count() == 8


class WorkerKilled(BaseException):
    """Stands for the worker process dying mid-chunk: nothing in the run catches it."""


def crash_after(n: int):
    def step(_: int) -> None:
        step.done += 1
        if step.done == n:
            raise WorkerKilled

    step.done = 0
    return step


def test_a_chunk_that_died_is_picked_up_by_the_sweeper_and_counts_nothing_twice(
    contract, django_capture_on_commit_callbacks
):
    contracts = more_contracts(contract, [1, 2, 3])
    run = invoice_run_create(as_of=AS_OF, contracts=contracts, chunk_size=4)
    chunk = run.chunks.get()
    with pytest.raises(WorkerKilled):
        invoice_run_chunk_close(chunk_id=chunk.pk, on_contract=crash_after(2))
    chunk.refresh_from_db()
    run.refresh_from_db()
    # The chunk issued its four opening invoices before closing any period, then two contracts' three periods.
    assert (chunk.status, chunk.position, run.status, run.contracts_done, run.invoices_made) == (
        "running",
        2,
        "running",
        2,
        10,
    )
    assert Invoice.objects.count() == 10  # 4 opening invoices, and half the chunk's contracts' periods (2 x 3)
    # A second delivery while the chunk still beats does nothing; the sweeper leaves a fresh one alone too.
    assert invoice_run_chunk_close(chunk_id=chunk.pk) is None
    assert invoice_runs_sweep(now=chunk.heartbeat_at + STALE_AFTER / 2) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert invoice_runs_sweep(now=chunk.heartbeat_at + STALE_AFTER * 2) == [chunk.pk]
    chunk.refresh_from_db()
    run.refresh_from_db()
    assert (chunk.status, chunk.position, chunk.attempts) == ("done", 4, 2)
    assert (run.status, run.contracts_done, run.invoices_created, run.invoices_made) == ("finished", 4, 16, 16)
    assert Invoice.objects.count() == 16  # 4 contracts x 4
    no_duplicates()


def test_a_new_run_after_a_crash_finishes_what_is_missing(contract):
    contracts = more_contracts(contract, [1, 2, 3])
    crashed = invoice_run_create(as_of=AS_OF, contracts=contracts)
    with pytest.raises(WorkerKilled):
        invoice_run_chunk_close(chunk_id=crashed.chunks.get().pk, on_contract=crash_after(3))
    assert Invoice.objects.count() == 13  # 4 opening invoices, then three contracts' three periods
    run = invoice_run(as_of=AS_OF, contracts=contracts)  # the last contract's three periods
    assert (run.status, run.contracts_done, run.invoices_created, run.invoices_made) == ("finished", 4, 3, 3)
    assert Invoice.objects.filter(status="finalized").count() == 16
    no_duplicates()
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, 17)]  # gapless across the crash


def test_a_failed_chunk_fails_the_run_and_a_resume_finishes_it(contract, django_capture_on_commit_callbacks):
    contracts = more_contracts(contract, [1])
    run = invoice_run_create(as_of=AS_OF, contracts=contracts, chunk_size=1)
    first, second = run.chunks.order_by("number")
    invoice_run_chunk_close(chunk_id=first.pk)

    def lost_database(_: int) -> None:
        raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        invoice_run_chunk_close(chunk_id=second.pk, on_contract=lost_database)
    run.refresh_from_db()
    second.refresh_from_db()
    assert (run.status, run.chunks_done, second.status) == ("failed", 2, "failed")
    assert second.error == "ConnectionError: the database went away"
    # Its contract's work was committed before the failure: the resume finds it done and ends the chunk.
    with django_capture_on_commit_callbacks(execute=True):
        assert invoice_run_resume(run=run, now=AS_OF) == [second.pk]
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.contracts_done, run.invoices_made) == ("finished", 2, 2, 8)
    no_duplicates()


def test_a_run_with_no_contracts_is_finished_at_once():
    run = invoice_run_start(as_of=AS_OF, contracts=[])
    assert (run.status, run.contracts_total, run.chunks_total) == ("finished", 0, 0)
    assert InvoiceRun.objects.get().finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_command_can_run_through_the_workers(contract, capsys):
    more_contracts(contract, [1, 2])
    call_command("close_periods", "--as-of", "2026-03-15T00:00:00Z", "--workers", "--chunk-size", "2")
    out = capsys.readouterr().out
    assert "3 contracts in 2 chunks queued" in out
    # Each contract: its opening invoice, January and February.
    assert "finished: 3/3 contracts, 9 invoices made, 9 invoices finalized, 0 failures" in out


def test_lost_messages_are_queued_again_only_once_the_run_has_stopped_moving(
    contract, django_capture_on_commit_callbacks
):
    contracts = more_contracts(contract, [1, 2])
    run = invoice_run_create(as_of=AS_OF, contracts=contracts, chunk_size=2)  # queued, but the messages are lost
    first = run.chunks.order_by("number").first()
    invoice_run_chunk_close(chunk_id=first.pk)  # one chunk was closed: the run moved just now
    run.refresh_from_db()
    assert invoice_runs_sweep(now=run.updated_at + STALE_AFTER / 2) == []
    with django_capture_on_commit_callbacks(execute=True):
        queued = invoice_runs_sweep(now=run.updated_at + STALE_AFTER * 2)
    assert len(queued) == 1
    run.refresh_from_db()
    assert (run.status, run.contracts_done, run.chunks_done, run.invoices_made) == ("finished", 3, 2, 12)
