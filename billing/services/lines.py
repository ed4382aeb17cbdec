"""The invoice's charge lines as finance reads them: discounts apart, no empty usage.

- A percentage discount of the contract's terms is shown as its own negative line (kind `discount`) under the
  line it applies to, which then carries the list price: the customer sees what they saved. The discount is
  the net amount less the list amount, both rounded once as lines are, so the invoice total is exactly what
  the discounted price alone gives. Multipliers and replacement prices are the contract's price: they stay
  folded into the unit price.
- A usage product with no usage and nothing to pay has no line. A line with usage and nothing to pay (all of
  it covered by included units) stays, with its quantity: it tells the customer what the allowance covered.
- Fees billed earlier (in advance, or on an off-cycle invoice) are settled by billing/services/fees.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from billing.models import LineKind
from billing.services.invoices import LineDraft, breakdown_of
from contracts.models import Contract, OverrideKind, PriceOverride
from contracts.selectors import PreviewLine, contract_fee_lines, contract_preview, contract_version_on
from revops.money import plain
from revops.periods import Period


def _discounts(contract: Contract, period: Period) -> dict[int | None, PriceOverride]:
    terms = contract_version_on(contract, period.start) or contract.versions.order_by("number").first()
    return {o.product_id: o for o in terms.overrides.all()}


def _discount_lines(
    contract: Contract, period: Period, drafts: list[LineDraft], list_priced: Callable[[], list[PreviewLine]]
) -> list[LineDraft]:
    """`drafts` with each discounted line at its list price followed by its discount; `list_priced()` reads the
    same lines at list prices, in the same order."""
    overrides = _discounts(contract, period)
    if not any(o.kind == OverrideKind.DISCOUNT for o in overrides.values()):
        return drafts
    listed = list_priced()
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
            draft.breakdown = breakdown_of(listed_line.line)
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
    listed = partial(contract_preview, contract=contract, period=period, usage=usage, list_prices=True)
    return [d for d in _discount_lines(contract, period, drafts, listed) if _meaningful(d)]


def fee_lines(contract: Contract, period: Period, drafts: list[LineDraft], *, timing: str | None) -> list[LineDraft]:
    """The period's fee lines (`contract_fee_lines` of `timing`) with their discounts as lines of their own."""
    listed = partial(contract_fee_lines, contract=contract, period=period, timing=timing, list_prices=True)
    return _discount_lines(contract, period, drafts, listed)
