"""A contract's terms applied to the card's prices: pure functions over the rating engine's specs.

No database here (like catalog/rating.py): the selectors load the card version and the terms,
and these functions turn them into the specs the engine rates.

- A `multiplier` scales every amount of a price (unit and tier prices, flat and per-event fees,
  minimums and maximums, and the percentage of a percentage price); a `discount` of p% is a
  multiplier of (1 - p/100). Scaled rates are rounded half-up to the engine's 12 decimal places.
- A `replace` override swaps in a whole price, given as the catalog API takes one.
- Included usage sets the price's free units for the period (the contract's allowance replaces
  what the card's price includes). On a dimensional price the allowance is shared by all group
  values, consumed by the dearest ones first, which is the customer-friendly reading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from catalog import rating, specs
from revops.money import RATE_QUANTUM

Spec = rating.PriceSpec | rating.DimensionalPriceSpec
_SCALED = (
    "flat_amount",
    "unit_price",
    "package_price",
    "percentage",
    "fixed_fee_per_event",
    "min_per_event",
    "max_per_event",
    "minimum_charge",
    "maximum_charge",
)


def _scale(value: Decimal | None, factor: Decimal) -> Decimal | None:
    if value is None:
        return None
    return (value * factor).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP).normalize()


def scale_price(spec: Spec, factor: Decimal) -> Spec:
    """Every amount of the price times `factor`."""
    if isinstance(spec, rating.DimensionalPriceSpec):
        return rating.DimensionalPriceSpec(
            group_key=spec.group_key,
            prices={group: scale_price(price, factor) for group, price in spec.prices.items()},
            default=scale_price(spec.default, factor) if spec.default else None,
        )
    changes: dict[str, Any] = {name: _scale(getattr(spec, name), factor) for name in _SCALED}
    changes["tiers"] = tuple(
        rating.Tier(
            start=t.start, up_to=t.up_to, unit_price=_scale(t.unit_price, factor), flat_fee=_scale(t.flat_fee, factor)
        )
        for t in spec.tiers
    )
    return dataclasses.replace(spec, **changes)


def apply_override(
    spec: Spec,
    *,
    kind: str,
    currency: str,
    multiplier: Decimal | None = None,
    discount_percent: Decimal | None = None,
    price: Mapping[str, Any] | None = None,
) -> Spec:
    if kind == "multiplier":
        return scale_price(spec, multiplier)
    if kind == "discount":
        return scale_price(spec, 1 - discount_percent / 100)
    if kind == "replace":
        values = {k: v for k, v in price.items() if k != "tiers"}
        return specs.spec_from_values({**values, "currency": currency}, price.get("tiers") or [])
    raise ValueError(f"unknown override kind {kind!r}")


def with_included(spec: rating.PriceSpec, included: Decimal) -> rating.PriceSpec:
    return dataclasses.replace(spec, included_units=included)


def share_included(
    spec: rating.DimensionalPriceSpec, usage: Mapping[str, Decimal], included: Decimal
) -> dict[str, Decimal]:
    """Split a shared allowance over group values: the dearest groups' units are covered first."""

    def unit_cost(group: str) -> Decimal:
        price = spec.prices.get(group, spec.default)
        probe = rating.rate(
            dataclasses.replace(price, minimum_charge=None, maximum_charge=None, included_units=Decimal(0)), Decimal(1)
        )
        return probe.amount

    left = included
    shares: dict[str, Decimal] = {}
    for group in sorted(usage, key=lambda g: (-unit_cost(g), g)):
        take = min(left, usage[group])
        shares[group] = take
        left -= take
    return shares


def dimensional_with_included(
    spec: rating.DimensionalPriceSpec, usage: Mapping[str, Decimal], included: Decimal
) -> rating.DimensionalPriceSpec:
    """The dimensional price with the shared allowance placed on the groups that used it."""
    shares = share_included(spec, usage, included)
    prices = dict(spec.prices)
    for group, share in shares.items():
        price = spec.prices.get(group, spec.default)
        prices[group] = with_included(price, share)
    return rating.DimensionalPriceSpec(group_key=spec.group_key, prices=prices, default=spec.default)
