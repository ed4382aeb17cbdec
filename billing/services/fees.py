"""Fees (subscriptions, recurring fees, one-time charges) as invoices bill them: each period's fees once in all.

A product billed in advance is billed for a period before it is used: the first period's on the contract's
opening invoice (billing/services/opening.py), each later period's on the invoice that closes the period
before it. A product billed in arrears is billed on the invoice that closes its period, like usage.

Every invoice that bills fees of a period X (the opening invoice: the first period; the invoice closing P:
P's fees and the next period's fees billed in advance; an off-cycle invoice: the period of its change)
bills, per product, X's fees as the subscription schedule stands now, less what other invoices (voided
ones billed nothing) have billed for X:
- nothing changed since X was billed in advance: no line for X at all;
- seats changed inside X (proration on the next invoice): X's fees as they turned out, then a negative line
  per invoice that billed X earlier, so the difference is billed (or credited, when seats went down);
- a change billed at once on an off-cycle invoice, or an invoice voided since, is accounted for by the same
  arithmetic on the next invoice that bills X.
A line is "for X" when its service dates lie inside X; fee lines carry the stretch they pay for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from billing.models import InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from billing.services import lines
from billing.services.invoices import LineDraft, preview_draft
from catalog.models import BillingTiming, Product
from contracts.models import Contract
from contracts.prefetch import batch_for
from contracts.selectors import contract_ended_by, contract_fee_lines, contract_period
from revops.money import ZERO
from revops.periods import Period

FEE_KINDS = (LineKind.SUBSCRIPTION, LineKind.ONE_TIME, LineKind.DISCOUNT)


@dataclass
class Billed:
    """What one earlier invoice billed of a product for a period."""

    invoice_id: int
    invoice_kind: str
    label: str  # the invoice's number, or its id while it has none
    product_id: int
    amount: Decimal = ZERO
    pricing_model: str = ""  # of the fees it billed: a settlement counts against the model it settles


def is_fee(draft: LineDraft) -> bool:
    """A fee line (or its discount): what `settle` accounts for. Usage and its discounts are not fees."""
    return draft.kind in FEE_KINDS and draft.product is not None and draft.product.metric_id is None


def next_period(contract: Contract, period: Period) -> Period | None:
    """The period after `period`, unless the contract has ended by then."""
    following = contract_period(contract, period.end)
    return None if contract_ended_by(contract, following.start) else following


def fee_drafts(contract: Contract, period: Period, *, timing: str | None = None) -> list[LineDraft]:
    """The period's fees as invoice lines (contract discounts shown apart); `timing`: only in advance or arrears."""
    drafts = [
        preview_draft(line, period) for line in contract_fee_lines(contract=contract, period=period, timing=timing)
    ]
    return lines.fee_lines(contract, period, drafts, timing=timing)


def fees_ahead(contract: Contract, period: Period, following: Period | None) -> list[LineDraft]:
    """What the invoice closing `period` bills in advance: the next period's (`following`, from `next_period`)
    fees of products billed in advance, less what other invoices billed of them already."""
    if following is None:
        return []
    drafts = fee_drafts(contract, following, timing=BillingTiming.IN_ADVANCE)
    return settle(contract, following, drafts, billed_for(contract, following, making=(InvoiceKind.PERIOD, period)))


# --- what other invoices billed -----------------------------------------------------------------------------


def _rows(contract_ids: Iterable[int], since: dt.date):
    return (
        InvoiceLine.objects.filter(
            invoice__contract_id__in=list(contract_ids),
            kind__in=FEE_KINDS,
            product__metric__isnull=True,
            service_start__gte=since,
        )
        .exclude(invoice__status=InvoiceStatus.VOID)
        .order_by("invoice__finalized_at", "invoice_id", "position")
        .values_list(
            "invoice__contract_id",
            "invoice_id",
            "invoice__kind",
            "invoice__period_start",
            "invoice__number",
            "product_id",
            "amount",
            "service_start",
            "service_end",
            "pricing_model",
        )
    )


def _rows_of_batch(batch) -> dict[int, list[tuple]]:
    """A period close's fee lines for all its contracts at once, from the earliest period on: contract id -> rows."""
    found: dict[int, list[tuple]] = {}
    for row in _rows(batch.periods, min(p.start for p in batch.periods.values())):
        found.setdefault(row[0], []).append(row)
    return found


def fees_billed_exist(contract: Contract, period: Period) -> bool:
    """Whether any invoice (not voided) billed fees of the contract for `period`."""
    return _rows([contract.pk], period.start).filter(service_end__lte=period.end).exists()


def billed_for(contract: Contract, period: Period, *, making: tuple[str, Period] | None) -> dict[int, list[Billed]]:
    """Per product, what invoices of the contract other than the one being made (`making`: its kind and period;
    None for a new off-cycle invoice) billed for `period`, invoice by invoice."""
    batch = batch_for(contract)
    in_batch = None
    if batch and making is not None and making[0] == InvoiceKind.PERIOD:
        in_batch = batch.for_period(contract.pk, making[1], "billing.billed_fees", _rows_of_batch)
    rows = in_batch.get(contract.pk, []) if in_batch is not None else _rows([contract.pk], period.start)
    billed: dict[tuple[int, int], Billed] = {}
    for _, invoice_id, kind, period_start, number, product_id, amount, start, end, model in rows:
        if not (period.start <= start and end <= period.end):
            continue
        if making is not None and (kind, period_start) == (making[0], making[1].start):
            continue  # the invoice being made: its own earlier reading
        item = billed.setdefault(
            (product_id, invoice_id), Billed(invoice_id, kind, number or str(invoice_id), product_id)
        )
        item.amount += amount
        item.pricing_model = item.pricing_model or model
    by_product: dict[int, list[Billed]] = {}
    for item in billed.values():
        by_product.setdefault(item.product_id, []).append(item)
    return by_product


# --- settling a period's fees -------------------------------------------------------------------------------


def _already_billed(product: Product, period: Period, item: Billed) -> LineDraft:
    if item.invoice_kind == InvoiceKind.OFF_CYCLE:
        kind, what = LineKind.BILLED_OFF_CYCLE, "prorated change already billed"
    else:
        kind, what = LineKind.BILLED_IN_ADVANCE, "billed in advance"
    return LineDraft(
        kind=kind,
        description=f"{product.name}: {period.start} to {period.end} {what} on invoice {item.label}",
        amount=-item.amount,
        product=product,
        pricing_model=item.pricing_model,
        service_start=period.start,
        service_end=period.end,
    )


def settle(
    contract: Contract, period: Period, drafts: list[LineDraft], billed: dict[int, list[Billed]]
) -> list[LineDraft]:
    """`drafts` (some of them fees of `period`) with each fee product's lines settled against what other invoices
    billed for the period: unchanged, when nothing was; left out, when exactly their amount was; otherwise
    kept and followed by a negative line per invoice that billed them."""
    actual: dict[int, Decimal] = {}
    last: dict[int, int] = {}
    for index, draft in enumerate(drafts):
        if is_fee(draft):
            actual[draft.product.pk] = actual.get(draft.product.pk, ZERO) + draft.amount
            last[draft.product.pk] = index
    settled = {pk for pk, items in billed.items() if sum((i.amount for i in items), ZERO) == actual.get(pk, ZERO)}
    result: list[LineDraft] = []
    for index, draft in enumerate(drafts):
        if not is_fee(draft):
            result.append(draft)
            continue
        if draft.product.pk in settled:
            continue
        result.append(draft)
        if last[draft.product.pk] == index:
            result += [_already_billed(draft.product, period, item) for item in billed.get(draft.product.pk, [])]
    gone = sorted(pk for pk in billed if pk not in actual and pk not in settled)  # billed, then taken away
    products = Product.objects.in_bulk(gone) if gone else {}
    for pk in gone:
        result += [_already_billed(products[pk], period, item) for item in billed[pk]]
    return result
