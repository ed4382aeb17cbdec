"""Period close: every contract whose period has ended gets its invoice; drafts past their grace finalize.

A run is idempotent and resumable: the database allows one invoice per contract and period, so a
rerun after a crash computes only what is missing and finalizes only what is still a draft. Each
contract is its own transaction, so one contract's failure is recorded and the others go on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from billing.models import Invoice, InvoiceKind, InvoiceRun, InvoiceStatus
from billing.services.invoices import invoice_compute, invoice_finalize
from contracts.models import Contract, ContractStatus
from contracts.selectors import contract_period
from revops.errors import DomainError
from revops.periods import Period, period_bounds_utc


def closed_periods(contract: Contract, as_of: dt.datetime) -> list[Period]:
    """The contract's periods that have ended by `as_of` (at midnight in the customer's timezone)."""
    periods = []
    day = contract.start_date
    last_day = contract.end_date
    while True:
        period = contract_period(contract, day)
        if last_day is not None and period.start >= last_day:
            break
        _, ends_at = period_bounds_utc(period, contract.customer.timezone)
        if ends_at > as_of:
            break
        periods.append(period)
        day = period.end
    return periods


def _grace() -> dt.timedelta:
    return dt.timedelta(hours=settings.REVOPS_INVOICE_GRACE_HOURS)


def invoice_run(
    *,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None = None,
    contracts: Iterable[Contract] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> InvoiceRun:
    """Close every ended period up to `as_of`: compute missing invoices, recompute drafts, finalize those whose
    grace period is over. `progress(done, total)` is called after each contract."""
    run = InvoiceRun.objects.create(started_at=as_of, as_of=as_of, started_by=actor)
    if contracts is None:
        # Customers on a test clock live at the clock's time: only advancing their clock closes their periods.
        contracts = Contract.objects.filter(
            status__in=[ContractStatus.ACTIVE, ContractStatus.ENDED], customer__test_clock__isnull=True
        ).select_related("customer", "rate_card", "pinned_version")
    todo = list(contracts)
    run.contracts_total = len(todo)
    made = 0
    failures = []
    for done, contract in enumerate(todo, start=1):
        try:
            made += _close_contract(contract, as_of=as_of, actor=actor)
        except DomainError as exc:
            failures.append({"contract": contract.pk, "code": exc.code, "message": exc.message})
        if progress:
            progress(done, len(todo))
    run.invoices_made = made
    run.failures = failures
    run.finished_at = as_of
    run.save()
    return run


def _close_contract(contract: Contract, *, as_of: dt.datetime, actor) -> int:
    existing = {
        i.period_start: i
        for i in Invoice.objects.filter(contract=contract, kind=InvoiceKind.PERIOD).only("period_start", "status", "pk")
    }
    finalized = 0
    for period in closed_periods(contract, as_of):
        invoice = existing.get(period.start)
        if invoice is not None and invoice.status != InvoiceStatus.DRAFT:
            continue
        invoice = invoice_compute(contract=contract, period=period, as_of=as_of, actor=actor)
        _, ends_at = period_bounds_utc(period, contract.customer.timezone)
        if ends_at + _grace() <= as_of:
            invoice_finalize(invoice=invoice, as_of=as_of, actor=actor)
            finalized += 1
    return finalized
