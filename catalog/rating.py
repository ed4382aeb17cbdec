"""The rating engine: a price and a period's usage in, rated invoice lines out.

Pure Python (stdlib and `revops.money` only, no Django), so it runs and is tested
without a database. Callers (catalog services, billing) turn their models into a
`PriceSpec` and their aggregated usage into a `Usage`, then call `rate` or
`rate_dimensional`. Every spec is checked by `validate_spec` before it is rated.

Amounts stay unrounded inside the engine. `RatedLine.rounded_amount()` rounds a
line once, to the currency's minor unit, with the price's rounding mode
(`revops.money.ROUNDING_MODES`, default "half_up"); invoice totals are sums of
rounded lines, never re-rounded here.

Semantics, in the order the engine applies them
-----------------------------------------------
1. Included units. `included_units` (any model) come off the quantity first:
   included = min(quantity, included_units), billable = quantity - included.
   Included units never bill; tiers and packages count billable units only, so
   the first billable unit is priced at tier 1. For PERCENTAGE the included
   amount is volume (money), absorbed from the events in the order given.
2. The price model prices the billable quantity:
   - FLAT: `flat_amount` per period, whatever the quantity (zero included).
   - PER_UNIT: billable x `unit_price`.
   - GRADUATED: a tier covers quantities in (start, up_to]; each unit is priced
     by the tier it falls in. A tier's `flat_fee` is charged once when at least
     one unit (or part of one) falls in it. One breakdown item per touched tier.
   - VOLUME: every billable unit at the unit price of the tier the total
     reaches (start < billable <= up_to), plus that tier's flat fee. Zero
     billable units bill nothing, not even tier 1's flat fee.
   - PACKAGE: blocks = ceil(billable / package_size) with package_rounding "up"
     (every started block), floor with "down" (complete blocks only);
     amount = blocks x package_price.
   - PERCENTAGE: `quantity` is the summed volume (e.g. payments), `percentage`
     a percent (2.9 means 2.9%). Without per-event clamps:
     billable_volume x pct/100 + event_count x fixed_fee_per_event.
     With `min_per_event` and/or `max_per_event`, every event is priced alone:
     sum of clamp(billable_part x pct/100 + fixed_fee, min, max), which needs
     `Usage.event_values`. The fixed fee and the clamps are per event, not per
     unit of volume, so they apply to every event, even one whose volume the
     included amount absorbed.
3. Line clamps (any model): `minimum_charge` raises the line amount to the
   minimum, even at zero usage (it is the minimum for the period);
   `maximum_charge` caps it. The adjustment is its own breakdown item.

The breakdown always sums exactly to the line amount (the amount is computed
as that sum), and every item satisfies amount = quantity x unit_price + flat_fee.
All arithmetic runs in a 50-digit decimal context, so 12-decimal rates times
quantities in the trillions stay exact.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from revops.money import (
    DEFAULT_ROUNDING,
    RATE_DECIMAL_PLACES,
    RATE_QUANTUM,
    ROUNDING_MODES,
    ZERO,
    CurrencyError,
    MoneyValueError,
    multiply,
    quantize_rate,
    round_amount,
    rounding_mode,
    to_decimal,
    validate_currency,
)

__all__ = [
    "BreakdownItem",
    "DimensionalPriceSpec",
    "PriceModel",
    "PriceSpec",
    "PriceSpecError",
    "RatedLine",
    "RatingError",
    "Tier",
    "UnpricedGroupError",
    "Usage",
    "UsageError",
    "rate",
    "rate_dimensional",
    "validate_spec",
]

ONE = Decimal(1)
EN_DASH = "\u2013"
# The name of revops.money's default mode ("half_up"), so a price that names no mode rounds like money does.
DEFAULT_ROUNDING_NAME = next(name for name, mode in ROUNDING_MODES.items() if mode == DEFAULT_ROUNDING)
PACKAGE_ROUNDINGS = ("up", "down")

# Wide enough that sums and products of 12-decimal rates and huge quantities never round.
_CONTEXT = decimal.Context(prec=50, rounding=DEFAULT_ROUNDING)


# --- errors -----------------------------------------------------------------------------------------------


class RatingError(ValueError):
    """Base class: the engine was asked to rate something it cannot rate."""


class PriceSpecError(RatingError):
    """A price spec is invalid. `problems` lists every (field, message) found, not only the first."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems: list[tuple[str, str]] = list(problems)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.problems))

    @property
    def fields(self) -> list[str]:
        return [field for field, _ in self.problems]


class UnpricedGroupError(RatingError):
    """Usage arrived for group values that have no price and there is no default price."""

    def __init__(self, group_key: str, groups: Iterable[str]) -> None:
        self.group_key = group_key
        self.groups: list[str] = sorted(groups)
        names = ", ".join(repr(group) for group in self.groups)
        super().__init__(f"no price for {group_key} {names} and no default price")


class UsageError(RatingError):
    """The usage handed to the engine is impossible or incomplete for the price."""


# --- data model -------------------------------------------------------------------------------------------


class PriceModel(StrEnum):
    FLAT = "flat"
    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"
    PERCENTAGE = "percentage"


def _set_decimals(obj: object, *names: str) -> None:
    """Coerce the named attributes of a frozen dataclass to Decimal (None stays None; floats are refused)."""
    for name in names:
        value = getattr(obj, name)
        if value is not None:
            object.__setattr__(obj, name, to_decimal(value))


@dataclass(frozen=True, slots=True)
class Tier:
    """Prices the quantities in (start, up_to]; up_to None means unbounded."""

    start: Decimal
    up_to: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal = ZERO

    def __post_init__(self) -> None:
        _set_decimals(self, "start", "up_to", "unit_price", "flat_fee")


@dataclass(frozen=True, slots=True)
class PriceSpec:
    """One price. Only the fields of its model may be set; `validate_spec` refuses the others."""

    model: PriceModel
    currency: str
    flat_amount: Decimal | None = None  # FLAT
    unit_price: Decimal | None = None  # PER_UNIT
    tiers: tuple[Tier, ...] = ()  # GRADUATED, VOLUME
    package_size: Decimal | None = None  # PACKAGE
    package_price: Decimal | None = None  # PACKAGE
    package_rounding: str = "up"  # PACKAGE: "up" bills every started block, "down" complete blocks only
    percentage: Decimal | None = None  # PERCENTAGE: a percent, 2.9 means 2.9%
    fixed_fee_per_event: Decimal | None = None  # PERCENTAGE
    min_per_event: Decimal | None = None  # PERCENTAGE
    max_per_event: Decimal | None = None  # PERCENTAGE
    included_units: Decimal = ZERO  # any model: free units (volume for PERCENTAGE) per period
    minimum_charge: Decimal | None = None  # any model: per line and period
    maximum_charge: Decimal | None = None  # any model: per line and period
    rounding: str = DEFAULT_ROUNDING_NAME  # a name from revops.money.ROUNDING_MODES

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", PriceModel(self.model))
        object.__setattr__(self, "tiers", tuple(self.tiers))
        _set_decimals(self, *_MONEY_FIELDS, "package_size", "percentage", "included_units")


@dataclass(frozen=True, slots=True)
class DimensionalPriceSpec:
    """A price per value of a usage property (e.g. per `model`), with a default for the other values."""

    group_key: str
    prices: Mapping[str, PriceSpec]
    default: PriceSpec | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """A period's usage for one line.

    For PERCENTAGE, `quantity` is the summed volume, `event_count` the number of events (for the fixed fee)
    and `event_values` each event's amount (needed for per-event clamps). Given `event_values`, the
    event count defaults to their number and the quantity must equal their sum.
    """

    quantity: Decimal
    event_count: int = 0
    event_values: tuple[Decimal, ...] | None = None

    def __post_init__(self) -> None:
        quantity = to_decimal(self.quantity)
        object.__setattr__(self, "quantity", quantity)
        if quantity < 0:
            raise UsageError(f"quantity {quantity} is negative; usage cannot be negative")
        if self.event_count < 0:
            raise UsageError(f"event_count {self.event_count} is negative")
        if self.event_values is None:
            return
        values = tuple(to_decimal(value) for value in self.event_values)
        object.__setattr__(self, "event_values", values)
        if any(value < 0 for value in values):
            raise UsageError("event_values must not be negative")
        if self.event_count == 0:
            object.__setattr__(self, "event_count", len(values))
        elif self.event_count != len(values):
            raise UsageError(f"event_count {self.event_count} but {len(values)} event_values")
        total = ZERO
        for value in values:
            total = _CONTEXT.add(total, value)
        if total != quantity:
            raise UsageError(f"quantity {quantity} is not the sum of event_values ({total})")


@dataclass(frozen=True, slots=True)
class BreakdownItem:
    """One printed row under an invoice line. Always amount = quantity x unit_price + flat_fee."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal
    tier: int | None = None  # 1-based tier number for GRADUATED and VOLUME rows


@dataclass(frozen=True, slots=True)
class RatedLine:
    """A rated line: unrounded `amount` equal to the sum of its breakdown; round once with `rounded_amount`.

    `unit_price` is the price used: `unit_price` (PER_UNIT), the reached tier's (VOLUME), the price per
    package (PACKAGE), `flat_amount` (FLAT), pct/100 (PERCENTAGE) and, for GRADUATED, the effective average
    = priced amount / billable quantity (12 decimal places, 0 when nothing is billable). Line clamps do not
    change it.
    """

    group: str | None
    model: PriceModel
    currency: str
    quantity: Decimal
    included_quantity: Decimal
    billable_quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    breakdown: tuple[BreakdownItem, ...]
    rounding: str = DEFAULT_ROUNDING_NAME

    def rounded_amount(self) -> Decimal:
        """The line amount rounded once to the currency's minor unit (USD 0.01, JPY 1)."""
        return round_amount(self.amount, self.currency, rounding_mode(self.rounding))


# --- rating ------------------------------------------------------------------------------------------------


def rate(spec: PriceSpec, usage: Usage | Decimal) -> RatedLine:
    """Rate one period's usage against one price. Raises PriceSpecError for an invalid spec."""
    validate_spec(spec)
    return _rate_valid(spec, _as_usage(usage), group=None)


def rate_dimensional(spec: DimensionalPriceSpec, usage_by_group: Mapping[str, Usage | Decimal]) -> list[RatedLine]:
    """Rate usage per group value: one line per value in `usage_by_group`, sorted by value.

    A value without its own price uses the default; with no default it is an UnpricedGroupError naming
    every such value (usage is never dropped). Prices without usage make no line.
    """
    validate_spec(spec)
    unpriced = [group for group in usage_by_group if _price_for(spec, group) is None]
    if unpriced:
        raise UnpricedGroupError(spec.group_key, unpriced)
    lines = []
    for group in sorted(usage_by_group):
        price = _price_for(spec, group)
        assert price is not None  # checked above
        lines.append(_rate_valid(price, _as_usage(usage_by_group[group]), group=group))
    return lines


def _price_for(spec: DimensionalPriceSpec, group: str) -> PriceSpec | None:
    return spec.prices.get(group, spec.default)


def _as_usage(usage: Usage | Decimal) -> Usage:
    return usage if isinstance(usage, Usage) else Usage(quantity=to_decimal(usage))


# A pricer prices the billable quantity (args: spec, usage, included, billable) and returns the unit
# price it used and its breakdown items.
_Priced = tuple[Decimal, list[BreakdownItem]]
_Pricer = Callable[[PriceSpec, Usage, Decimal, Decimal], _Priced]


def _rate_valid(spec: PriceSpec, usage: Usage, group: str | None) -> RatedLine:
    with decimal.localcontext(_CONTEXT):
        included = min(usage.quantity, spec.included_units)
        billable = usage.quantity - included
        unit_price, priced = _PRICERS[spec.model](spec, usage, included, billable)
        items = [_included_item(spec, included)] if included else []
        items += priced
        items += _line_clamp(spec, _total(priced))
        return RatedLine(
            group=group,
            model=spec.model,
            currency=validate_currency(spec.currency),
            quantity=usage.quantity,
            included_quantity=included,
            billable_quantity=billable,
            unit_price=unit_price,
            amount=_total(items),
            breakdown=tuple(items),
            rounding=spec.rounding,
        )


def _price_flat(spec: PriceSpec, usage: Usage, included: Decimal, billable: Decimal) -> _Priced:
    assert spec.flat_amount is not None
    return spec.flat_amount, [_fixed_item("Flat fee per period", spec.flat_amount)]


def _price_per_unit(spec: PriceSpec, usage: Usage, included: Decimal, billable: Decimal) -> _Priced:
    assert spec.unit_price is not None
    item = BreakdownItem("Per unit", billable, spec.unit_price, ZERO, multiply(billable, spec.unit_price))
    return spec.unit_price, [item]


def _price_graduated(spec: PriceSpec, usage: Usage, included: Decimal, billable: Decimal) -> _Priced:
    items = []
    for number, tier in enumerate(spec.tiers, start=1):
        if billable <= tier.start:
            break
        top = billable if tier.up_to is None else min(billable, tier.up_to)
        units = top - tier.start
        amount = multiply(units, tier.unit_price) + tier.flat_fee
        items.append(BreakdownItem(_tier_label(number, tier), units, tier.unit_price, tier.flat_fee, amount, number))
    average = (_total(items) / billable).quantize(RATE_QUANTUM) if billable else ZERO
    return average, items


def _price_volume(spec: PriceSpec, usage: Usage, included: Decimal, billable: Decimal) -> _Priced:
    if not billable:
        return ZERO, []
    # Tiers are contiguous from 0 (validated), so the first tier whose top is not below the total is
    # the one with start < billable <= up_to.
    number, tier = next(
        (number, tier)
        for number, tier in enumerate(spec.tiers, start=1)
        if tier.up_to is None or billable <= tier.up_to
    )
    amount = multiply(billable, tier.unit_price) + tier.flat_fee
    label = f"{_tier_label(number, tier)}, price applied to all units"
    return tier.unit_price, [BreakdownItem(label, billable, tier.unit_price, tier.flat_fee, amount, number)]


def _price_package(spec: PriceSpec, usage: Usage, included: Decimal, billable: Decimal) -> _Priced:
    assert spec.package_size is not None and spec.package_price is not None
    blocks, remainder = divmod(billable, spec.package_size)  # exact: an integral quotient and a remainder
    if remainder and spec.package_rounding == "up":
        blocks += 1
    which = "every started package" if spec.package_rounding == "up" else "complete packages only"
    label = f"Packages of {_fmt(spec.package_size)} units ({which})"
    amount = multiply(blocks, spec.package_price)
    return spec.package_price, [BreakdownItem(label, blocks, spec.package_price, ZERO, amount)]


def _price_percentage(spec: PriceSpec, usage: Usage, included: Decimal, billable: Decimal) -> _Priced:
    assert spec.percentage is not None
    fraction = spec.percentage / 100
    fixed = spec.fixed_fee_per_event or ZERO
    volume_amount = multiply(billable, fraction)
    items = [BreakdownItem(f"{_fmt(spec.percentage)}% of volume", billable, fraction, ZERO, volume_amount)]
    if spec.fixed_fee_per_event is not None:
        count = Decimal(usage.event_count)
        items.append(BreakdownItem("Fixed fee per event", count, fixed, ZERO, multiply(count, fixed)))
    if spec.min_per_event is not None or spec.max_per_event is not None:
        items += _per_event_clamps(spec, usage, included, fraction, fixed)
    return fraction, items


def _per_event_clamps(
    spec: PriceSpec, usage: Usage, included: Decimal, fraction: Decimal, fixed: Decimal
) -> list[BreakdownItem]:
    """Price each event alone and return the clamping as (at most) two adjustment rows.

    One row per clamp, not per event, so an invoice of a million payments stays readable; the rows above
    already hold volume x pct and the fixed fees, so together they sum to the clamped per-event fees.
    """
    if usage.event_values is None:
        raise UsageError("min_per_event/max_per_event clamp each event: pass each event's amount in event_values")
    low, high = spec.min_per_event, spec.max_per_event
    raised, n_raised, capped, n_capped = ZERO, 0, ZERO, 0
    included_left = included
    for value in usage.event_values:
        absorbed = min(value, included_left)
        included_left -= absorbed
        fee = multiply(value - absorbed, fraction) + fixed
        if low is not None and fee < low:
            raised, n_raised = raised + (low - fee), n_raised + 1
        elif high is not None and fee > high:
            capped, n_capped = capped + (fee - high), n_capped + 1
    items = []
    if low is not None and n_raised:
        items.append(_fixed_item(f"Minimum per event {_fmt(low)} ({_count(n_raised, 'event')} raised)", raised))
    if high is not None and n_capped:
        items.append(_fixed_item(f"Maximum per event {_fmt(high)} ({_count(n_capped, 'event')} capped)", -capped))
    return items


_PRICERS: dict[PriceModel, _Pricer] = {
    PriceModel.FLAT: _price_flat,
    PriceModel.PER_UNIT: _price_per_unit,
    PriceModel.GRADUATED: _price_graduated,
    PriceModel.VOLUME: _price_volume,
    PriceModel.PACKAGE: _price_package,
    PriceModel.PERCENTAGE: _price_percentage,
}


def _included_item(spec: PriceSpec, included: Decimal) -> BreakdownItem:
    what = "volume" if spec.model == PriceModel.PERCENTAGE else "units"
    return BreakdownItem(f"Included {what} (no charge)", included, ZERO, ZERO, ZERO)


def _line_clamp(spec: PriceSpec, amount: Decimal) -> list[BreakdownItem]:
    if spec.minimum_charge is not None and amount < spec.minimum_charge:
        label = f"Minimum charge {_fmt(spec.minimum_charge)} (usage came to {_fmt(amount)})"
        return [_fixed_item(label, spec.minimum_charge - amount)]
    if spec.maximum_charge is not None and amount > spec.maximum_charge:
        label = f"Maximum charge {_fmt(spec.maximum_charge)} (usage came to {_fmt(amount)})"
        return [_fixed_item(label, spec.maximum_charge - amount)]
    return []


def _fixed_item(description: str, amount: Decimal) -> BreakdownItem:
    """A row that is one fixed amount: quantity 1 at that price (keeps amount = quantity x unit_price)."""
    return BreakdownItem(description, ONE, amount, ZERO, amount)


def _total(items: Iterable[BreakdownItem]) -> Decimal:
    total = ZERO
    for item in items:
        total = _CONTEXT.add(total, item.amount)
    return total


# --- labels ------------------------------------------------------------------------------------------------


def _fmt(value: Decimal) -> str:
    """1000 -> '1,000'; 100.50 -> '100.5'; 0.000002 -> '0.000002' (never scientific notation)."""
    if value == value.to_integral_value():
        return f"{value.quantize(ONE, context=_CONTEXT):,f}"
    return f"{value.normalize(_CONTEXT):,f}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _tier_label(number: int, tier: Tier) -> str:
    """'Tier 2: 101-1,000 units' (en dash) for whole-unit tiers, else 'over 0.5 up to 10 units'."""
    start, up_to = tier.start, tier.up_to
    if up_to is None:
        return f"Tier {number}: all units" if start == 0 else f"Tier {number}: over {_fmt(start)} units"
    if start == start.to_integral_value() and up_to == up_to.to_integral_value():
        return f"Tier {number}: {_fmt(start + 1)}{EN_DASH}{_fmt(up_to)} units"
    if start == 0:
        return f"Tier {number}: up to {_fmt(up_to)} units"
    return f"Tier {number}: over {_fmt(start)} up to {_fmt(up_to)} units"


# --- validation --------------------------------------------------------------------------------------------

# Money fields: never negative, at most 12 decimal places.
_MONEY_FIELDS = (
    "flat_amount",
    "unit_price",
    "package_price",
    "fixed_fee_per_event",
    "min_per_event",
    "max_per_event",
    "minimum_charge",
    "maximum_charge",
)
# The fields each model needs, and the ones it may use; the remaining model fields must stay unset.
_REQUIRED: dict[PriceModel, tuple[str, ...]] = {
    PriceModel.FLAT: ("flat_amount",),
    PriceModel.PER_UNIT: ("unit_price",),
    PriceModel.GRADUATED: ("tiers",),
    PriceModel.VOLUME: ("tiers",),
    PriceModel.PACKAGE: ("package_size", "package_price"),
    PriceModel.PERCENTAGE: ("percentage",),
}
_OPTIONAL: dict[PriceModel, tuple[str, ...]] = {
    PriceModel.PERCENTAGE: ("fixed_fee_per_event", "min_per_event", "max_per_event"),
}
_MODEL_FIELDS = (
    "flat_amount",
    "unit_price",
    "tiers",
    "package_size",
    "package_price",
    "percentage",
    "fixed_fee_per_event",
    "min_per_event",
    "max_per_event",
)


def validate_spec(spec: PriceSpec | DimensionalPriceSpec) -> None:
    """Raise PriceSpecError listing every problem with the spec, or return None if it can be rated."""
    with decimal.localcontext(_CONTEXT):
        problems = _dimensional_problems(spec) if isinstance(spec, DimensionalPriceSpec) else _spec_problems(spec)
    if problems:
        raise PriceSpecError(problems)


def _dimensional_problems(spec: DimensionalPriceSpec) -> list[tuple[str, str]]:
    problems = []
    if not spec.group_key:
        problems.append(("group_key", "name the usage property whose value selects the price"))
    if not spec.prices and spec.default is None:
        problems.append(("prices", "a dimensional price needs at least one price or a default"))
    named = [(f"prices[{value}]", value, price) for value, price in sorted(spec.prices.items())]
    if spec.default is not None:
        named.append(("default", "default", spec.default))
    users: dict[str, list[str]] = {}
    for prefix, name, price in named:
        problems += [(f"{prefix}.{field}", message) for field, message in _spec_problems(price)]
        users.setdefault(price.currency.upper(), []).append(name)
    if len(users) > 1:
        found = ", ".join(f"{code} ({', '.join(names)})" for code, names in sorted(users.items()))
        problems.append(("currency", f"all prices must share one currency, found {found}"))
    return problems


def _spec_problems(spec: PriceSpec) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []

    try:
        validate_currency(spec.currency)
    except CurrencyError as error:
        problems.append(("currency", str(error)))
    try:
        rounding_mode(spec.rounding)
    except ValueError as error:
        problems.append(("rounding", str(error)))

    required = _REQUIRED[spec.model]
    allowed = required + _OPTIONAL.get(spec.model, ())
    for name in _MODEL_FIELDS:
        is_set = getattr(spec, name) not in (None, ())
        if name in required and not is_set:
            needs = "at least one tier" if name == "tiers" else name
            problems.append((name, f"{spec.model} prices need {needs}"))
        elif name not in allowed and is_set:
            problems.append((name, f"{name} does not apply to {spec.model} prices"))

    for name in _MONEY_FIELDS:
        problems += _money_problems(name, getattr(spec, name))
    problems += _tier_problems(spec.tiers)

    if spec.package_size is not None and spec.package_size <= 0:
        problems.append(("package_size", f"must be greater than 0, not {_fmt(spec.package_size)}"))
    if spec.package_rounding not in PACKAGE_ROUNDINGS:
        problems.append(("package_rounding", f"must be 'up' or 'down', not {spec.package_rounding!r}"))
    if spec.percentage is not None and not 0 <= spec.percentage <= 100:
        problems.append(("percentage", f"must be between 0 and 100, not {_fmt(spec.percentage)}"))
    if spec.included_units < 0:
        problems.append(("included_units", f"must not be negative, not {_fmt(spec.included_units)}"))
    problems += _min_max_problems("min_per_event", spec.min_per_event, "max_per_event", spec.max_per_event)
    problems += _min_max_problems("minimum_charge", spec.minimum_charge, "maximum_charge", spec.maximum_charge)
    return problems


def _money_problems(field: str, value: Decimal | None) -> list[tuple[str, str]]:
    if value is None:
        return []
    if value < 0:
        return [(field, f"must not be negative, not {_fmt(value)}")]
    try:
        quantize_rate(value)
    except MoneyValueError:
        return [(field, f"{_fmt(value)} has more than {RATE_DECIMAL_PLACES} decimal places")]
    return []


def _min_max_problems(
    low_field: str, low: Decimal | None, high_field: str, high: Decimal | None
) -> list[tuple[str, str]]:
    if low is not None and high is not None and low > high:
        return [(low_field, f"{low_field} {_fmt(low)} is above {high_field} {_fmt(high)}")]
    return []


def _tier_problems(tiers: tuple[Tier, ...]) -> list[tuple[str, str]]:
    """Tiers must run from 0 without gaps or overlaps, each ending above its start, the last unbounded.

    Fields are 0-based (`tiers[1].start`, as a formset row); messages count tiers from 1 as a person does.
    """
    problems: list[tuple[str, str]] = []

    def add(index: int, field: str, message: str) -> None:
        problems.append((f"tiers[{index}].{field}", message))

    if tiers and tiers[0].start != 0:
        add(0, "start", f"tier 1 must start at 0, not {_fmt(tiers[0].start)}")
    for index, tier in enumerate(tiers):
        number = index + 1
        problems += _money_problems(f"tiers[{index}].unit_price", tier.unit_price)
        problems += _money_problems(f"tiers[{index}].flat_fee", tier.flat_fee)
        if tier.up_to is not None and tier.up_to <= tier.start:
            add(
                index,
                "up_to",
                f"tier {number} ends at {_fmt(tier.up_to)}, not above its start {_fmt(tier.start)}",
            )
        if index == 0:
            continue
        previous = tiers[index - 1]
        if previous.up_to is None:
            add(
                index - 1,
                "up_to",
                f"only the last tier may be unbounded, but tier {index} is and tier {number} follows",
            )
        elif tier.start != previous.up_to:
            kind = "a gap" if tier.start > previous.up_to else "an overlap"
            ends = _fmt(previous.up_to)
            add(
                index,
                "start",
                f"tier {number} starts at {_fmt(tier.start)} but tier {index} ends at {ends} ({kind})",
            )
    last_top = tiers[-1].up_to if tiers else None
    if last_top is not None:
        add(
            len(tiers) - 1,
            "up_to",
            f"the last tier must be unbounded, but tier {len(tiers)} ends at {_fmt(last_top)}",
        )
    return problems
