"""The opening invoice: a contract's first period's fees billed in advance, when the contract starts.

Fees billed in advance are paid before the period they pay for: each later period's on the invoice that
closes the period before it (billing/services/fees.py), the first period's on this invoice, issued and
finalized by the first period close that runs once the contract has started (beat runs it every hour; a
test clock runs it when it passes the start). Activating a contract issues nothing by itself: the run
decides at the moment it closes (`as_of`), so the invoice's date and number do not depend on when staff
clicked. It also bills the prepaid commitments whose access starts in the first period, and is paid with
the credits usable then, like any invoice. A contract with nothing billed in advance gets none (no empty
invoices); nor does one whose first period was invoiced before (its period invoice settled those fees).

Written like period invoices, by billing/services/batch_close.py (a run's chunk together, or
`invoice_opening_issue` one alone), with the lines of `opening_drafts`. One per contract: the database
refuses a second.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from billing.models import Invoice, InvoiceKind
from billing.services import fees
from billing.services.invoices import LineDraft, _apply_balances, _taxes, commit_purchases
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


def opening_drafts(
    contract: Contract, period: Period, *, draw: bool, as_of: dt.datetime, actor, reference: str
) -> list[LineDraft]:
    """Every line of the opening invoice: the first period's fees billed in advance (less anything billed of
    them already) and the commitments starting in it, the balances that pay them (drawn for real with
    `draw`), the taxes. Nothing at all when there is nothing to bill."""
    charges = fees.settle(
        contract,
        period,
        fees.fee_drafts(contract, period, timing=BillingTiming.IN_ADVANCE),
        fees.billed_for(contract, period, making=(InvoiceKind.OPENING, period)),
    )
    charges += commit_purchases(contract, period, until=period.end)
    if not charges:
        return []
    drafts = charges + _apply_balances(
        contract, period, charges, draw=draw, as_of=as_of, actor=actor, reference=reference
    )
    return drafts + _taxes(contract, period, drafts)


@transaction.atomic
def invoice_opening_issue(*, contract: Contract, as_of: dt.datetime, actor: AbstractBaseUser | None) -> Invoice | None:
    """Issue the contract's opening invoice if it is due (see the module's note), alone and under a lock of the
    contract, through the same code a period close issues a chunk's with: computed, paid with the balances
    usable, numbered and frozen at once. None when it is not due or has nothing to bill."""
    from billing.services.batch_close import Work, invoices_close_many  # it imports this module: loaded late

    contract = Contract.objects.select_for_update().select_related("customer").get(pk=contract.pk)
    period = opening_period(contract)
    invoices = Invoice.objects.filter(contract=contract)
    opened = invoices.filter(kind=InvoiceKind.OPENING).exists()
    invoiced = set(
        invoices.filter(kind=InvoiceKind.PERIOD, period_start=period.start).values_list("period_start", flat=True)
    )
    if not opening_due(contract, as_of, invoiced=invoiced, opened=opened):
        return None
    work = Work(contract=contract, period=period, finalize=True, kind=InvoiceKind.OPENING)
    try:
        with transaction.atomic():
            result = invoices_close_many([work], as_of=as_of, actor=actor)[contract.pk]
    except IntegrityError:  # issued meanwhile by another run
        return None
    if result.error:
        raise result.error
    return invoices.get(kind=InvoiceKind.OPENING) if result.created else None
