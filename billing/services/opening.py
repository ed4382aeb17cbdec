"""The opening invoice: a contract's first period's fees billed in advance, when the contract starts.

Fees billed in advance are paid before the period they pay for: each later period's on the invoice that
closes the period before it (billing/services/fees.py), the first period's on this invoice, issued and
finalized by the first period close that runs once the contract has started (beat runs it every hour; a
test clock runs it when it passes the start). Activating a contract issues nothing by itself: the run
decides at the moment it closes (`as_of`), so the invoice's date and number do not depend on when staff
clicked. It also bills the prepaid commitments whose access starts in the first period, and is paid with
the credits usable then, like any invoice. A contract with nothing billed in advance gets none (no empty
invoices); nor does one whose first period was invoiced before (its period invoice settled those fees).

A run issues a chunk's opening invoices together (billing/services/batch_close.py, lines from
`opening_drafts`); `invoice_opening_issue` issues one alone, under a lock of its contract. One per
contract: the database refuses a second.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from billing.models import Invoice, InvoiceKind
from billing.services import fees
from billing.services.invoices import (
    LineDraft,
    _apply_balances,
    _taxes,
    _write,
    commit_purchases,
    new_invoice,
    reference_of,
    refuse_negative,
    seal,
)
from catalog.models import BillingTiming
from contracts.models import Contract, ContractStatus
from contracts.selectors import contract_period
from revops.periods import Period, period_bounds_utc

OPENING_REASON = "opening: the first period's fees billed in advance"


def opening_period(contract: Contract) -> Period:
    return contract_period(contract, contract.start_date)


def contract_starts_at(contract: Contract) -> dt.datetime:
    """The moment the contract's first day begins: midnight in the customer's timezone."""
    first_day = Period(contract.start_date, contract.start_date + dt.timedelta(days=1))
    return period_bounds_utc(first_day, contract.customer.timezone)[0]


def opening_due(contract: Contract, as_of: dt.datetime, *, invoiced: set[dt.date], opened: bool) -> bool:
    """Whether the contract's opening invoice is still to issue: started, active, and neither an opening invoice
    (`opened`) nor the first period's invoice (`invoiced`: period starts with an invoice) yet."""
    return (
        contract.status in (ContractStatus.ACTIVE, ContractStatus.ENDED)
        and not opened
        and opening_period(contract).start not in invoiced
        and contract_starts_at(contract) <= as_of
    )


def opening_charges(contract: Contract, period: Period) -> list[LineDraft]:
    """What the opening invoice bills: the first period's fees billed in advance (less anything billed of them
    already) and the commitments starting in it."""
    charges = fees.settle(
        contract,
        period,
        fees.fee_drafts(contract, period, timing=BillingTiming.IN_ADVANCE),
        fees.billed_for(contract, period, making=(InvoiceKind.OPENING, period)),
    )
    return charges + commit_purchases(contract, period, until=period.end)


def opening_drafts(
    contract: Contract,
    period: Period,
    *,
    draw: bool,
    as_of: dt.datetime,
    actor,
    reference: str,
    charges: list[LineDraft] | None = None,
) -> list[LineDraft]:
    """Every line of the opening invoice: its charges (`opening_charges`, or those given), the balances that pay
    them (drawn for real with `draw`), the taxes. Nothing at all when there is nothing to bill."""
    charges = opening_charges(contract, period) if charges is None else charges
    if not charges:
        return []
    drafts = charges + _apply_balances(
        contract, period, charges, draw=draw, as_of=as_of, actor=actor, reference=reference
    )
    return drafts + _taxes(contract, period, drafts)


@transaction.atomic
def invoice_opening_issue(*, contract: Contract, as_of: dt.datetime, actor: AbstractBaseUser | None) -> Invoice | None:
    """Issue the contract's opening invoice if it is due (see the module's note): computed, paid with the
    balances usable, numbered and frozen at once. None when it is not due or has nothing to bill. (A period
    close issues a chunk's opening invoices together through billing/services/batch_close.py.)"""
    contract = Contract.objects.select_for_update().select_related("customer").get(pk=contract.pk)
    period = opening_period(contract)
    invoices = Invoice.objects.filter(contract=contract)
    opened = invoices.filter(kind=InvoiceKind.OPENING).exists()
    invoiced = set(
        invoices.filter(kind=InvoiceKind.PERIOD, period_start=period.start).values_list("period_start", flat=True)
    )
    if not opening_due(contract, as_of, invoiced=invoiced, opened=opened):
        return None
    charges = opening_charges(contract, period)
    if not charges:
        return None
    invoice = new_invoice(contract, period, kind=InvoiceKind.OPENING)
    try:
        with transaction.atomic():
            invoice.save()
    except IntegrityError:  # issued meanwhile by another run
        return None
    drafts = opening_drafts(
        contract, period, draw=True, as_of=as_of, actor=actor, reference=reference_of(invoice), charges=charges
    )
    _write(invoice, drafts, as_of=as_of)
    refuse_negative(invoice)
    return seal(invoice, as_of=as_of, actor=actor, reason=OPENING_REASON)
