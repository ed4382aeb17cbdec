"""Turn stored prices into the rating engine's specs. The one bridge from catalog models to rating.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from catalog import rating
from catalog.models import Price

# The Price columns that map one-to-one onto PriceSpec fields.
SPEC_FIELDS = (
    "flat_amount",
    "unit_price",
    "package_size",
    "package_price",
    "package_rounding",
    "percentage",
    "fixed_fee_per_event",
    "min_per_event",
    "max_per_event",
    "included_units",
    "minimum_charge",
    "maximum_charge",
    "rounding",
)


def _plain(value: Decimal) -> Decimal:
    """Drop the database's trailing zeros (10.000000000000 -> 10) so breakdowns print like people write."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def spec_from_values(values: Mapping[str, Any], tiers: Sequence[Mapping[str, Any]]) -> rating.PriceSpec:
    """Build a PriceSpec from a price's field values and its tiers (dicts with start, up_to, unit_price, flat_fee)."""
    model = rating.PriceModel(values["model"])
    fields: dict[str, Any] = {}
    for name in SPEC_FIELDS:
        value = values.get(name)
        if value is None:
            continue
        fields[name] = _plain(value) if isinstance(value, Decimal) else value
    if model != rating.PriceModel.PACKAGE:
        fields.pop("package_rounding", None)
    if fields.get("included_units") is None:
        fields.pop("included_units", None)
    return rating.PriceSpec(
        model=model,
        currency=values["currency"],
        tiers=tuple(
            rating.Tier(
                start=_plain(Decimal(t["start"])),
                up_to=None if t.get("up_to") is None else _plain(Decimal(t["up_to"])),
                unit_price=_plain(Decimal(t["unit_price"])),
                flat_fee=_plain(Decimal(t.get("flat_fee") or 0)),
            )
            for t in tiers  # in the order given: validation names a misplaced tier by its position
        ),
        **fields,
    )


def spec_for_price(price: Price) -> rating.PriceSpec:
    values = {name: getattr(price, name) for name in (*SPEC_FIELDS, "model", "currency")}
    tiers = [
        {"start": t.start, "up_to": t.up_to, "unit_price": t.unit_price, "flat_fee": t.flat_fee}
        for t in price.tiers.all()
    ]
    return spec_from_values(values, tiers)


def spec_for_product(prices: Iterable[Price]) -> rating.PriceSpec | rating.DimensionalPriceSpec:
    """One product's price rows in a version: a plain spec, or a dimensional one when they carry a group key."""
    rows = list(prices)
    if not rows:
        raise ValueError("no price rows")
    group_key = rows[0].group_key
    if not group_key:
        return spec_for_price(rows[0])
    return rating.DimensionalPriceSpec(
        group_key=group_key,
        prices={p.group_value: spec_for_price(p) for p in rows if p.group_value},
        default=next((spec_for_price(p) for p in rows if not p.group_value), None),
    )
