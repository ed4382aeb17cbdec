"""Advancing a test clock: everything that would have happened to its customers between the clock's time and
the new one runs, in time order, each step as of its own moment. Deleting a clock and its simulated data.

Each step is an invoice run (period closes, drafts recomputed, finalizations after grace) and then the expiry
of the balances due, both limited to the clock's contracts and both idempotent. So an advance that fails part
way stops with the clock at the last step that completed, marked failed with the error, and can be advanced
again. Subscription changes, amendments and contract ends are effective-dated: billing reads them by date, so
they need no step of their own.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import ProtectedError

from billing.models import Invoice, InvoiceStatus
from billing.services.expiries import balances_expire_due
from billing.services.opening import contract_starts_at
from billing.services.runs import closed_periods, invoice_run
from contracts.models import Balance, Contract, ContractStatus, Customer, TestClock, TestClockStatus
from contracts.services import clocks as clock_services
from revops import clock
from revops.errors import Conflict, DomainError, ValidationError
from revops.periods import period_bounds_utc
from usage.services import usage_customers_delete


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def advance_steps(contracts: list[Contract], *, after: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The moments in (after, until] at which something happens to these contracts, in order, ending at
    `until`: each contract's start (its opening invoice; at `after` itself for one that started by then with
    no invoice yet, e.g. a clock made at the start), each period's end (its invoice is computed) and end
    plus grace (it is finalized), and each balance's expiry."""
    grace = dt.timedelta(hours=settings.REVOPS_INVOICE_GRACE_HOURS)
    moments = {until}
    starts: set[dt.datetime] = set()
    invoiced = set(Invoice.objects.filter(contract__in=contracts).values_list("contract_id", flat=True))
    for contract in contracts:
        # Its opening invoice: at its start, or at once for one that started at or before the clock's time
        # (a clock made at the start) and has no invoice yet.
        if contract.pk not in invoiced:
            starts.add(max(contract_starts_at(contract), after))
        for period in closed_periods(contract, until):
            _, ends_at = period_bounds_utc(period, contract.customer.timezone)
            moments.update((ends_at, ends_at + grace))
    for expires_on in Balance.objects.filter(contract__in=contracts).values_list("expires_on", flat=True):
        moments.add(_midnight(expires_on))
    return sorted({m for m in moments if after < m <= until} | {m for m in starts if m <= until})


def _clock_contracts(test_clock: TestClock) -> list[Contract]:
    return list(
        Contract.objects.filter(
            customer__test_clock=test_clock, status__in=[ContractStatus.ACTIVE, ContractStatus.ENDED]
        ).select_related("customer", "rate_card", "pinned_version")
    )


def test_clock_advance(*, test_clock: TestClock, frozen_time: dt.datetime, actor: AbstractBaseUser | None) -> TestClock:
    """Move the clock forward to `frozen_time`, running every step in between. Returns the clock: ready at the new
    time, or failed (with the error) at the last step that completed."""
    if not isinstance(frozen_time, dt.datetime) or frozen_time.tzinfo is None:
        raise ValidationError("give a date and time with its UTC offset", field="frozen_time")
    frozen_time = frozen_time.astimezone(dt.UTC)
    with clock_services.test_clock_exclusive(test_clock):
        return _advance(test_clock, frozen_time, actor=actor)


def _advance(test_clock: TestClock, frozen_time: dt.datetime, *, actor) -> TestClock:
    with transaction.atomic():
        locked = clock_services.test_clock_lock(test_clock)
        if frozen_time <= locked.frozen_time:
            raise ValidationError(
                f"a test clock only moves forward: it is at {locked.frozen_time.isoformat()}",
                code="not_forward",
                field="frozen_time",
            )
        start = locked.frozen_time
        clock_services.test_clock_move(test_clock=locked, to=start, status=TestClockStatus.ADVANCING)

    contracts = _clock_contracts(locked)
    try:
        for step in advance_steps(contracts, after=start, until=frozen_time):
            with clock.frozen_at(step):
                run = invoice_run(as_of=step, actor=actor, contracts=contracts)
                if run.failures:
                    first = run.failures[0]
                    raise Conflict(
                        f"contract {first['contract']} could not be billed at {step.isoformat()}: {first['message']}",
                        code="advance_failed",
                    )
                balances_expire_due(as_of=step, actor=actor, contracts=contracts)
            with transaction.atomic():
                status = TestClockStatus.READY if step == frozen_time else TestClockStatus.ADVANCING
                clock_services.test_clock_move(test_clock=locked, to=step, status=status)
    except DomainError as exc:
        clock_services.test_clock_move(test_clock=locked, to=locked.frozen_time, status=TestClockStatus.FAILED,
                                       error=exc.message)  # fmt: skip
    locked.refresh_from_db()
    return locked


def customer_has_final_invoices(customer: Customer) -> bool:
    return Invoice.objects.filter(customer=customer).exclude(status=InvoiceStatus.DRAFT).exists()


def test_clock_customer_attach(
    *, test_clock: TestClock, customer: Customer, actor: AbstractBaseUser | None
) -> Customer:
    return clock_services.customer_test_clock_attach(
        customer=customer, test_clock=test_clock, actor=actor, has_final_invoices=customer_has_final_invoices(customer)
    )


def test_clock_delete(*, test_clock: TestClock, actor: AbstractBaseUser | None) -> int:
    """Delete the clock with its customers' simulated data: events, draft invoices, contracts, customers.
    Refused while any of it is a frozen record (a finalized invoice, a ledger entry): those are kept for good."""
    with clock_services.test_clock_exclusive(test_clock):
        return _delete(test_clock)


@transaction.atomic
def _delete(test_clock: TestClock) -> int:
    locked = clock_services.test_clock_lock(test_clock)
    final = Invoice.objects.filter(customer__test_clock=locked).exclude(status=InvoiceStatus.DRAFT).count()
    entries = clock_services.test_clock_ledger_entries(locked)
    if final or entries:
        raise Conflict(
            f"the clock's customers have {final} finalized invoice(s) and {entries} balance ledger entries; those "
            "records are frozen (numbered, audited) and cannot be deleted, so the clock and its customers stay",
            code="clock_has_frozen_records",
        )
    customers = list(Customer.objects.filter(test_clock=locked))
    try:
        Invoice.objects.filter(customer__in=customers).delete()
        usage_customers_delete(customer_ids=[c.pk for c in customers])
        deleted = clock_services.test_clock_customers_delete(test_clock=locked)
    except ProtectedError as exc:  # records made elsewhere still refer to them: kept, with the clock
        names = sorted({obj._meta.verbose_name_plural for obj in exc.protected_objects})
        raise Conflict(
            f"other records still refer to the clock's customers ({', '.join(names)}); nothing was deleted",
            code="clock_has_frozen_records",
        ) from None
    locked.delete()
    return deleted
