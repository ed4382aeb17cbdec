"""Expire the commitments and credits whose access period is over (what is left lapses or rolls over).

Billing decides when: a balance pays the invoices of the periods it was usable in, and those draw it down
when they are finalized (after the grace period). So a balance expires only once the invoice of the last
period it can pay for is no longer a draft; until then it waits, and the next run takes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Sum

from billing.models import Invoice, InvoiceKind, InvoiceStatus
from contracts.models import Balance, Contract, ContractStatus, EntryKind, LedgerEntry
from contracts.selectors import contract_period
from contracts.services.balances import balance_expire

ONE_DAY = dt.timedelta(days=1)


def _may_still_be_drawn(balance: Balance) -> bool:
    """Whether an invoice that can still draw on the balance is not final yet."""
    contract = balance.contract
    if contract.status == ContractStatus.DRAFT:
        return False  # never invoiced: nothing will draw on it
    last_day = balance.expires_on - ONE_DAY
    if contract.end_date is not None:
        last_day = min(last_day, contract.end_date - ONE_DAY)
    if last_day < max(contract.start_date, balance.starts_on):
        return False
    period = contract_period(contract, last_day)
    return (
        # The period's own invoice: an opening or off-cycle one of the same period does not end its drawing.
        not Invoice.objects.filter(contract=contract, kind=InvoiceKind.PERIOD, period_start=period.start)
        .exclude(status=InvoiceStatus.DRAFT)
        .exists()
    )


def balances_due(*, as_of: dt.datetime, contracts: Iterable[Contract] | None = None):
    """Balances past their access period that still hold money and were never closed."""
    closed = LedgerEntry.objects.filter(
        balance=OuterRef("pk"), kind__in=[EntryKind.EXPIRY, EntryKind.ROLLOVER, EntryKind.VOID]
    )
    due = (
        Balance.objects.filter(expires_on__lte=as_of.date())
        .exclude(Exists(closed))
        .annotate(left=Sum("entries__amount"))
        .filter(left__gt=0)
        .select_related("contract__customer")
        .order_by("expires_on", "pk")
    )
    if contracts is None:
        # Customers on a test clock live at the clock's time: only an advance of their clock expires theirs.
        return due.filter(contract__customer__test_clock__isnull=True)
    return due.filter(contract__in=[c.pk for c in contracts])


def balances_expire_due(
    *, as_of: dt.datetime, actor: AbstractBaseUser | None = None, contracts: Iterable[Contract] | None = None
) -> list[LedgerEntry]:
    """Expire every balance due by `as_of` whose last invoice is final. Idempotent: a closed balance is skipped."""
    entries: list[LedgerEntry] = []
    for balance in balances_due(as_of=as_of, contracts=contracts):
        if _may_still_be_drawn(balance):
            continue
        entries += balance_expire(balance=balance, as_of=as_of, actor=actor)
    return entries
