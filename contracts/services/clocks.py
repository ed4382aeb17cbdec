"""Test clocks: simulated time for customers made to try billing out (scenario tests, demos, a sales sandbox).

A customer attached to a clock lives at the clock's time: every edge that asks "now" on its behalf reads
`customer_now`. Moving a clock forward runs the billing that falls in between; that lives in
billing.services.clocks, which can see invoices.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from contracts.models import (
    Balance,
    Contract,
    ContractVersion,
    Customer,
    CustomerAlias,
    LedgerEntry,
    SubscriptionChange,
    TestClock,
)
from revops import clock
from revops.errors import Conflict, ValidationError
from revops.history import stamp


def _aware(moment: dt.datetime, field: str) -> dt.datetime:
    if not isinstance(moment, dt.datetime) or moment.tzinfo is None:
        raise ValidationError("give a date and time with its UTC offset, e.g. 2026-01-01T00:00:00Z", field=field)
    return moment.astimezone(dt.UTC)


def customer_now(customer: Customer) -> dt.datetime:
    """The time the customer lives at: its test clock's, or the project clock's."""
    if customer.test_clock_id is None:
        return clock.now()
    return customer.test_clock.frozen_time


@transaction.atomic
def test_clock_create(*, name: str, frozen_time: dt.datetime, actor: AbstractBaseUser | None) -> TestClock:
    if not str(name).strip():
        raise ValidationError("a test clock needs a name", field="name")
    return TestClock.objects.create(name=name.strip(), frozen_time=_aware(frozen_time, "frozen_time"), created_by=actor)


def test_clock_lock(clock_: TestClock) -> TestClock:
    return TestClock.objects.select_for_update().get(pk=clock_.pk)


def test_clock_move(*, test_clock: TestClock, to: dt.datetime, status: str, error: str = "") -> TestClock:
    """Record where an advance has got to (the clock's time only ever goes forward)."""
    test_clock.frozen_time = max(test_clock.frozen_time, to)
    test_clock.status = status
    test_clock.error = error
    test_clock.save(update_fields=["frozen_time", "status", "error"])
    return test_clock


@transaction.atomic
def customer_test_clock_attach(
    *, customer: Customer, test_clock: TestClock, actor: AbstractBaseUser | None, has_final_invoices: bool
) -> Customer:
    """Put a customer on a clock. Only while nothing final was billed to it: its invoices were made in real
    time, and a simulated time may run behind them. The caller (billing) says whether it has final invoices."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.test_clock_id == test_clock.pk:
        return customer
    if customer.test_clock_id is not None:
        raise Conflict("the customer is already on another test clock", code="already_on_a_clock", field="customer")
    if has_final_invoices:
        raise Conflict(
            "the customer has finalized invoices made in real time; only a customer without any can join a clock",
            code="has_final_invoices",
            field="customer",
        )
    customer.test_clock = test_clock
    stamp(customer, actor=actor, reason=f"attached to test clock {test_clock.pk}")
    customer.save()
    return customer


def test_clock_ledger_entries(test_clock: TestClock) -> int:
    return LedgerEntry.objects.filter(balance__contract__customer__test_clock=test_clock).count()


@transaction.atomic
def test_clock_customers_delete(*, test_clock: TestClock) -> int:
    """Delete the clock's customers with their contracts and terms (the caller checked nothing frozen is left)."""
    customers = list(Customer.objects.filter(test_clock=test_clock))
    contracts = Contract.objects.filter(customer__in=customers)
    Balance.objects.filter(contract__in=contracts).delete()
    SubscriptionChange.objects.filter(contract__in=contracts).delete()
    ContractVersion.objects.filter(contract__in=contracts).delete()  # terms go with their version
    contracts.delete()
    CustomerAlias.objects.filter(customer__in=customers).delete()
    for customer in customers:
        customer.delete()
    return len(customers)


# A session-level advisory lock per clock (this namespace, the clock's id) is held while it advances or is
# deleted: a second advance is refused at once, and a crashed one frees it with its connection, so a clock
# left "advancing" by a crash can be advanced again.
_LOCK_NAMESPACE = 0x7C10C


@contextlib.contextmanager
def test_clock_exclusive(test_clock: TestClock) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, test_clock.pk])
        if not cursor.fetchone()[0]:
            raise Conflict("the clock is advancing; wait until it is done", code="clock_advancing")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, test_clock.pk])
