"""Pricing guardrails: checks that block a price, or escalate its version's activation to two approvers.

- a price below its product's floor (`Product.price_floor`): blocked, when the price is set and at activation;
- a price moving more than the policy's `max_price_change_percent` against the version in effect: escalated
  (two approvers) or blocked, as the policy's `guardrail_mode` says, when a version's activation is asked;
- a discount above the policy's `max_discount_percent` (contracts: see contracts/services/approvals.py);
- tiers with gaps or overlaps, and a currency other than the card's: refused by `price_check` and at activation.

A price's comparable rate (its "headline"): the flat amount, the unit price, the package price per unit, the
rate of the last (unbounded) tier of a tiered price, or the percentage. Two prices compare when their
headlines are in the same unit (flat with flat, percentage with percentage, per-unit models with each other).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from catalog import rating
from catalog.models import Product

PER_UNIT_MODELS = {rating.PriceModel.PER_UNIT, rating.PriceModel.GRADUATED, rating.PriceModel.VOLUME}
PER_UNIT_MODELS |= {rating.PriceModel.PACKAGE}


def headline(spec: rating.PriceSpec) -> tuple[str, Decimal] | None:
    """(unit family, rate) of a plain price, or None when it has no single rate."""
    model = rating.PriceModel(spec.model)
    if model == rating.PriceModel.FLAT and spec.flat_amount is not None:
        return "flat", spec.flat_amount
    if model == rating.PriceModel.PER_UNIT and spec.unit_price is not None:
        return "unit", spec.unit_price
    if model in (rating.PriceModel.GRADUATED, rating.PriceModel.VOLUME) and spec.tiers:
        return "unit", spec.tiers[-1].unit_price
    if model == rating.PriceModel.PACKAGE and spec.package_price is not None and spec.package_size:
        return "unit", spec.package_price / spec.package_size
    if model == rating.PriceModel.PERCENTAGE and spec.percentage is not None:
        return "percent", spec.percentage
    return None


def change_percent(old: rating.PriceSpec, new: rating.PriceSpec) -> Decimal | None:
    """How much `new` moves against `old`, in percent (+ up, - down); None when they do not compare."""
    a, b = headline(old), headline(new)
    if a is None or b is None or a[0] != b[0]:
        return None
    if a[1] == 0:
        return Decimal(0) if b[1] == 0 else None
    return ((b[1] - a[1]) / a[1] * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def floor_rates(spec: rating.PriceSpec) -> list[tuple[str, Decimal]]:
    """The rates a floor bounds, with their field: every per-unit rate (a free tier before the last is an
    allowance, not a price, so it is skipped), or the flat amount. Percentages are not in money: none."""
    model = rating.PriceModel(spec.model)
    if model == rating.PriceModel.FLAT and spec.flat_amount is not None:
        return [("flat_amount", spec.flat_amount)]
    if model == rating.PriceModel.PER_UNIT and spec.unit_price is not None:
        return [("unit_price", spec.unit_price)]
    if model == rating.PriceModel.PACKAGE and spec.package_price is not None and spec.package_size:
        return [("package_price", spec.package_price / spec.package_size)]
    last = len(spec.tiers) - 1
    return [
        (f"tiers.{i}.unit_price", tier.unit_price)
        for i, tier in enumerate(spec.tiers)
        if tier.unit_price > 0 or i == last
    ]


def floor_problems(product: Product, spec: rating.PriceSpec, prefix: str = "") -> dict[str, list[str]]:
    """Each rate of `spec` below the product's floor, by field (empty: none, or no floor)."""
    if product.price_floor is None:
        return {}
    floor = product.price_floor.normalize()
    out: dict[str, list[str]] = {}
    for field, rate in floor_rates(spec):
        if rate < product.price_floor:
            what = "per unit" if field.startswith("package") else ""
            out.setdefault(f"{prefix}{field}", []).append(
                f"{rate.normalize():f}{' ' + what if what else ''} is below {product.code}'s price floor of {floor:f}"
            )
    return out
