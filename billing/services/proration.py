"""Proration billed at once: a mid-period subscription change on a contract whose proration timing is
`immediately` is invoiced on its own off-cycle invoice, finalized and numbered at once.

The off-cycle invoice bills, per product, what the period's fees are with the change less what they were
without it (each rounded once, as the period invoice rounds them). The period's own invoice still shows
the period's fees in full, and a negative line per product for what off-cycle invoices billed (see
billing/services/lines.py), so nothing is billed twice; voiding the off-cycle invoice puts the difference
back on the period invoice.

Not billed at once, and left to the period invoice as with `next_invoice`:
- a change on the first day of a period, or in a period that has not begun by `as_of` (nothing is prorated
  yet: the period invoice bills it whole);
- a change whose net difference is not positive (a downgrade): an invoice cannot be negative, so the credit
  is given on the period invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from billing.models import Invoice, InvoiceKind, LineKind
from billing.services.invoices import LineDraft, _apply_balances, _taxes, _write, new_invoice, seal
from contracts.models import Contract, ContractStatus, ProrationTiming, SubscriptionChange
from contracts.selectors import contract_fee_lines, contract_period
from revops.money import ZERO


def _fees_by_product(lines) -> dict:
    fees: dict = {}
    for line in lines:
        fees[line.product] = fees.get(line.product, ZERO) + line.amount
    return fees


def _difference_lines(contract: Contract, changes: Sequence[SubscriptionChange], day: dt.date) -> list[LineDraft]:
    period = contract_period(contract, day)
    before = _fees_by_product(contract_fee_lines(contract=contract, period=period, excluding=[c.pk for c in changes]))
    after = _fees_by_product(contract_fee_lines(contract=contract, period=period))
    quantities = {c.product_id: c.quantity for c in changes}
    lines = []
    for product in sorted(set(before) | set(after), key=lambda p: p.pk):
        difference = after.get(product, ZERO) - before.get(product, ZERO)
        if not difference:
            continue
        now = quantities.get(product.pk)
        what = f"now {format(now.normalize(), 'f')}" if now is not None else "changed"
        lines.append(
            LineDraft(
                kind=LineKind.SUBSCRIPTION,
                description=f"{product.name}: {what} from {day}, prorated difference "
                f"({(period.end - day).days}/{period.days} days)",
                amount=difference,
                product=product,
                service_start=day,
                service_end=period.end,
            )
        )
    return lines


@transaction.atomic
def invoice_off_cycle_issue(
    *,
    contract: Contract,
    changes: Sequence[SubscriptionChange],
    as_of: dt.datetime,
    actor: AbstractBaseUser | None,
) -> Invoice | None:
    """Bill `changes` (stored already) at once on a finalized off-cycle invoice; None when they are left to the
    period invoice (see the module's note)."""
    contract = Contract.objects.select_for_update().select_related("customer").get(pk=contract.pk)
    if contract.proration != ProrationTiming.IMMEDIATELY or contract.status != ContractStatus.ACTIVE or not changes:
        return None
    day = min(c.effective_date for c in changes)
    period = contract_period(contract, day)
    if day == period.start or period.start > as_of.date():
        return None
    charges = _difference_lines(contract, changes, day)
    if sum((line.amount for line in charges), Decimal(0)) <= 0:
        return None
    invoice = new_invoice(contract, period, kind=InvoiceKind.OFF_CYCLE)
    invoice.save()
    drafts = charges + _apply_balances(
        contract, period, charges, draw=True, as_of=as_of, actor=actor, reference=f"invoice {invoice.pk}"
    )
    drafts += _taxes(contract, period, drafts)
    _write(invoice, drafts, as_of=as_of)
    return seal(invoice, as_of=as_of, actor=actor, reason=f"off-cycle: subscription change from {day} billed at once")
