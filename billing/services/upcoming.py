"""The upcoming invoice: a dry run of the current period's invoice, through the same code as the real one.

Its lines are `invoice_drafts(..., draw=False)`, the function the period close and finalizing use, so what
the customer sees here is what the period close will bill for the usage measured so far: discounts apart,
commitments and credits applied (simulated from what the balances hold now), prepaid commitments bought,
late-usage corrections, what off-cycle invoices already billed, taxes, and the totals `set_totals` makes.
Nothing is written: the invoice and its lines are unsaved rows, and no balance is drawn down.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from billing.services.fees import fees_billed_exist
from billing.services.invoices import invoice_drafts, line_rows, new_invoice, set_totals
from contracts.models import Contract
from contracts.selectors import contract_ended_by, contract_period
from revops.errors import Conflict, ValidationError
from revops.periods import Period

ESTIMATE_NOTE = (
    "An estimate: usage measured up to as_of, priced, discounted, paid from commitments and credits (as they "
    "stand now) and taxed exactly as the period close would. The invoice made when the period ends also counts "
    "the usage still to come, late events and any change to the terms or balances in between."
)


@dataclass(frozen=True)
class UpcomingInvoice:
    """The current period's invoice as the period close would make it now. `invoice` and `lines` are unsaved
    (no id, no number): the totals and the lines exactly as they would be stored."""

    contract: Contract
    period: Period
    as_of: dt.datetime
    invoice: Invoice
    lines: list[InvoiceLine]


def _period_at(*, contract: Contract, as_of: dt.datetime) -> Period:
    """The contract's billing period containing `as_of`, read on the customer's calendar: periods turn at
    midnight in the customer's timezone, so 23:30 UTC on the 31st is already the 1st in Berlin."""
    if as_of.tzinfo is None:
        # A naive time would be read in whatever zone the server is in: refuse it rather than guess.
        raise ValidationError("as_of must be an aware datetime", code="naive_datetime", field="as_of")
    today = as_of.astimezone(zoneinfo.ZoneInfo(contract.customer.timezone)).date()
    return contract_period(contract, today)


def _billed(contract: Contract, period: Period) -> bool:
    """Whether the period's invoice is no longer a draft (staff may finalize a period early)."""
    return (
        Invoice.objects.filter(contract=contract, kind=InvoiceKind.PERIOD, period_start=period.start)
        .exclude(status=InvoiceStatus.DRAFT)
        .exists()
    )


def invoice_upcoming(*, contract: Contract, as_of: dt.datetime) -> UpcomingInvoice:
    """The invoice of the contract's period containing `as_of` (the customer's now: its test clock's time if
    it has one), with the usage measured up to then; once that period's invoice is finalized (early), the
    next period's, as Stripe's upcoming invoice is the next one to be made. Writes nothing."""
    period = _period_at(contract=contract, as_of=as_of)
    if _billed(contract, period):  # finalized early: what comes next is the next period's invoice
        following = contract_period(contract, period.end)
        # Past the contract's end, only an invoice giving back fees billed in advance for it is to come.
        if contract_ended_by(contract, following.start) and not fees_billed_exist(contract, following):
            raise Conflict(
                f"the contract's last period ({period.start} to {period.end}) is invoiced already: nothing is upcoming",
                code="nothing_upcoming",
            )
        period = following
    drafts = invoice_drafts(contract, period, draw=False, as_of=as_of, actor=None)
    invoice = set_totals(new_invoice(contract, period), drafts, as_of=as_of)
    lines = line_rows(invoice, drafts)
    return UpcomingInvoice(contract=contract, period=period, as_of=as_of, invoice=invoice, lines=lines)


__all__ = ["ESTIMATE_NOTE", "UpcomingInvoice", "invoice_upcoming"]
