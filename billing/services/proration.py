"""Proration billed at once: a subscription change on a contract whose proration timing is `immediately` is
invoiced on its own off-cycle invoice, finalized and numbered at once.

The off-cycle invoice bills, per changed product, the fees of the change's period as they stand now less
what invoices billed of them already (billing/services/fees.py): after an upgrade inside a period billed in
advance, the prorated difference. The next invoice that bills the period counts the off-cycle invoice
among what was billed, so nothing is billed twice; voiding it puts the difference back there.

Not billed at once, and left to the next invoice that bills the period, as with `next_invoice`:
- a change in a period nothing has been billed of yet (a future period, or fees billed in arrears): that
  invoice bills the period as it is then;
- a change whose net difference is not positive (a downgrade): an invoice cannot be negative, so the credit
  is given on the period's next invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from billing.models import Invoice, InvoiceKind, LineKind
from billing.services import fees
from billing.services.invoices import LineDraft, _apply_balances, _taxes, _write, new_invoice, seal
from contracts.models import Contract, ContractStatus, ProrationTiming, SubscriptionChange
from contracts.selectors import contract_fee_lines, contract_period
from revops.money import ZERO


def _difference_lines(contract: Contract, changes: Sequence[SubscriptionChange], day: dt.date) -> list[LineDraft]:
    """Per changed product, the period's fees as they stand now less what invoices billed of them already."""
    period = contract_period(contract, day)
    billed = fees.billed_for(contract, period, making=None)
    if not billed:  # nothing of the period billed yet: the invoice that bills it bills the change too
        return []
    now: dict[int, Decimal] = {}
    for line in contract_fee_lines(contract=contract, period=period):
        now[line.product.pk] = now.get(line.product.pk, ZERO) + line.amount
    products = {c.product_id: c.product for c in changes}
    quantities = {c.product_id: c.quantity for c in changes}
    lines = []
    for product_id in sorted(products):
        difference = now.get(product_id, ZERO) - sum((b.amount for b in billed.get(product_id, [])), ZERO)
        if not difference:
            continue
        product = products[product_id]
        lines.append(
            LineDraft(
                kind=LineKind.SUBSCRIPTION,
                description=f"{product.name}: now {format(quantities[product_id].normalize(), 'f')} from {day}, "
                f"prorated difference ({(period.end - day).days}/{period.days} days)",
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
