"""Credit notes: credit a finalized invoice, in whole or by line, with a reason. The invoice stays frozen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum

from billing.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine, InvoiceStatus, LineKind
from billing.services.invoices import _next_number
from billing.webhooks.services import webhook_emit
from revops.errors import Conflict, ValidationError
from revops.money import ZERO, round_amount


def creditable(line: InvoiceLine) -> Decimal:
    """What of an invoice line can still be credited: its amount less earlier credit notes on it."""
    taken = line.credits.aggregate(total=Sum("amount"))["total"] or ZERO
    # A discount shown as its own line (the next one) lowers what the customer was charged for this line.
    discount = InvoiceLine.objects.filter(
        invoice_id=line.invoice_id, position=line.position + 1, kind=LineKind.DISCOUNT, product_id=line.product_id
    ).aggregate(total=Sum("amount"))["total"]
    return max(line.amount + (discount or ZERO) - taken, ZERO)


@transaction.atomic
def credit_note_create(
    *,
    invoice: Invoice,
    reason: str,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None,
    lines: Sequence[tuple[InvoiceLine, Decimal]] | None = None,
) -> CreditNote:
    """Credit `lines` ((invoice line, amount) pairs) of a finalized or paid invoice; None credits everything
    still creditable. Refused: drafts and voided invoices, amounts above what a line has left, no reason."""
    if not reason.strip():
        raise ValidationError("a credit note needs a reason", field="reason")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in (InvoiceStatus.FINALIZED, InvoiceStatus.PAID) or not invoice.number:
        raise Conflict(
            f"invoice {invoice} is {invoice.status}; only a numbered, finalized or paid invoice can be credited",
            code="not_creditable",
        )
    charged = invoice.lines.filter(amount__gt=0)
    if lines is None:
        lines = [(line, creditable(line)) for line in charged]
        lines = [(line, amount) for line, amount in lines if amount > 0]
        if not lines:
            raise Conflict("everything on this invoice has been credited already", code="nothing_left")
    errors: dict[str, list[str]] = {}
    for index, (line, amount) in enumerate(lines):
        if line.invoice_id != invoice.pk or line.amount <= 0:
            errors.setdefault(f"lines.{index}", []).append("not a charge on this invoice")
            continue
        left = creditable(line)
        if amount <= 0 or round_amount(amount, invoice.currency) != amount:
            errors.setdefault(f"lines.{index}.amount", []).append(
                f"give a positive amount in {invoice.currency}'s minor unit"
            )
        elif amount > left:
            errors.setdefault(f"lines.{index}.amount", []).append(f"only {left} of this line can still be credited")
    if errors:
        raise ValidationError("the credit note is invalid", code="invalid_credit_note", fields=errors)
    lines = [(line, round_amount(amount, invoice.currency)) for line, amount in lines]
    note = CreditNote.objects.create(
        invoice=invoice,
        number=_next_number(f"CN-{as_of.year}"),
        reason=reason,
        total=sum((amount for _, amount in lines), ZERO),
        currency=invoice.currency,
        issued_at=as_of,
        issued_by=actor,
    )
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(credit_note=note, invoice_line=line, description=line.description, amount=amount)
        for line, amount in lines
    )
    webhook_emit(event_type="credit_note.created", data=note, as_of=as_of)
    return note
