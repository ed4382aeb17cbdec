"""The period invoice's charge lines as finance reads them: discounts apart, no empty usage, off-cycle billing shown.

- A percentage discount of the contract's terms is shown as its own negative line (kind `discount`) under the
  line it applies to, which then carries the list price: the customer sees what they saved. The discount is
  the net amount less the list amount, both rounded once as lines are, so the invoice total is exactly what
  the discounted price alone gives. Multipliers and replacement prices are the contract's price: they stay
  folded into the unit price.
- A usage product with no usage and nothing to pay has no line. A line with usage and nothing to pay (all of
  it covered by included units) stays, with its quantity: it tells the customer what the allowance covered.
- What off-cycle invoices already billed of the period (a prorated change billed at once) is shown as a
  negative line per product, so the period's invoice does not bill it again.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from billing.services.invoices import LineDraft
from contracts.models import Contract, OverrideKind, PriceOverride
from contracts.prefetch import batch_for
from contracts.selectors import contract_preview, contract_version_on
from revops.money import ZERO, plain
from revops.periods import Period


def _breakdown(rated) -> list[dict]:
    return [
        {
            "description": b.description,
            "quantity": plain(b.quantity),
            "unit_price": plain(b.unit_price),
            "flat_fee": plain(b.flat_fee),
            "amount": plain(b.amount),
            "tier": b.tier,
        }
        for b in rated.breakdown
    ]


def _discounts(contract: Contract, period: Period) -> dict[int | None, PriceOverride]:
    terms = contract_version_on(contract, period.start) or contract.versions.order_by("number").first()
    return {o.product_id: o for o in terms.overrides.all()}


def _discount_lines(contract: Contract, period: Period, usage: dict, drafts: list[LineDraft]) -> list[LineDraft]:
    overrides = _discounts(contract, period)
    if not any(o.kind == OverrideKind.DISCOUNT for o in overrides.values()):
        return drafts
    listed = contract_preview(contract=contract, period=period, usage=usage, list_prices=True)
    priced = [d for d in drafts if d.product is not None]
    listed = [line for line in listed if line.product is not None]
    if [d.product.pk for d in priced] != [line.product.pk for line in listed]:
        return drafts  # the two readings disagree on the lines: keep the net lines rather than guess a pairing
    list_of = {id(d): line for d, line in zip(priced, listed, strict=True)}
    result: list[LineDraft] = []
    for draft in drafts:
        result.append(draft)
        listed_line = list_of.get(id(draft))
        if listed_line is None or listed_line.amount == draft.amount:
            continue
        override = overrides.get(draft.product.pk) or overrides.get(None)
        if override is None or override.kind != OverrideKind.DISCOUNT:
            continue
        net = draft.amount
        draft.amount = listed_line.amount
        if listed_line.line is not None:
            draft.unit_price = listed_line.line.unit_price
            draft.breakdown = _breakdown(listed_line.line)
        percent = plain(override.discount_percent)
        scope = "contract discount" if override.product_id else "contract discount on all products"
        result.append(
            LineDraft(
                kind=LineKind.DISCOUNT,
                description=f"{draft.product.name}: {percent}% {scope}",
                amount=net - listed_line.amount,
                product=draft.product,
                group=draft.group,
                service_start=draft.service_start,
                service_end=draft.service_end,
                pricing_model=draft.pricing_model,  # a discount counts against the model it discounts
            )
        )
    return result


def _meaningful(draft: LineDraft) -> bool:
    return not (draft.kind == LineKind.USAGE and not draft.quantity and not draft.amount)


def charge_lines(contract: Contract, period: Period, usage: dict, drafts: list[LineDraft]) -> list[LineDraft]:
    """The preview's lines as the invoice shows them: discounts as lines of their own, empty usage dropped."""
    # Split first: the list-price reading pairs with the preview's lines one to one, empty ones included.
    return [d for d in _discount_lines(contract, period, usage, drafts) if _meaningful(d)]


def _off_cycle() -> QuerySet[Invoice]:
    """Finalized off-cycle invoices with their subscription lines (a voided one billed nothing)."""
    subscriptions = InvoiceLine.objects.filter(kind=LineKind.SUBSCRIPTION).select_related("product").order_by("pk")
    return (
        Invoice.objects.filter(kind=InvoiceKind.OFF_CYCLE, status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.PAID])
        .prefetch_related(Prefetch("lines", queryset=subscriptions))
        .order_by("finalized_at", "pk")
    )


def _off_cycle_of_batch(batch) -> dict[tuple[int, object], list[Invoice]]:
    """A period close's off-cycle invoices for all its contracts' periods at once: (contract, period start)."""
    found: dict[tuple[int, object], list[Invoice]] = {}
    since = min(p.start for p in batch.periods.values())
    for invoice in _off_cycle().filter(contract_id__in=list(batch.periods), period_start__gte=since):
        if batch.periods[invoice.contract_id].start == invoice.period_start:
            found.setdefault((invoice.contract_id, invoice.period_start), []).append(invoice)
    return found


def billed_off_cycle_lines(contract: Contract, period: Period) -> list[LineDraft]:
    """Negative lines for what the period's off-cycle invoices billed (a voided one billed nothing)."""
    lines = []
    batch = batch_for(contract)
    in_batch = batch and batch.for_period(contract.pk, period, "billing.off_cycle", _off_cycle_of_batch)
    if in_batch is not None:
        off_cycle = in_batch.get((contract.pk, period.start), [])
    else:
        off_cycle = _off_cycle().filter(contract=contract, period_start=period.start)
    for invoice in off_cycle:
        billed: dict[int, Decimal] = {}
        products = {}
        for line in invoice.lines.all():
            billed[line.product_id] = billed.get(line.product_id, ZERO) + line.amount
            products[line.product_id] = line.product
        for product_id, amount in billed.items():
            if amount:
                lines.append(
                    LineDraft(
                        kind=LineKind.BILLED_OFF_CYCLE,
                        description=f"{products[product_id].name}: prorated change already billed on invoice "
                        f"{invoice.number or invoice.pk}",
                        amount=-amount,
                        product=products[product_id],
                        service_start=period.start,
                        service_end=period.end,
                    )
                )
    return lines
