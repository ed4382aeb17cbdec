"""Property tests for the rating engine: invariants that must hold for every valid price and usage."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from catalog.rating import PriceModel, PriceSpec, Tier, Usage, rate

ZERO = Decimal(0)


def amounts(max_value=1000, places=2):
    return st.decimals(min_value=0, max_value=max_value, places=places, allow_nan=False, allow_infinity=False)


quantities = st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False, allow_infinity=False)
unit_prices = st.decimals(min_value=0, max_value=10, places=6, allow_nan=False, allow_infinity=False)
currencies = st.sampled_from(["USD", "EUR", "JPY", "KWD"])


@st.composite
def tier_lists(draw):
    """Contiguous tiers from 0: sorted distinct boundaries, the last tier unbounded."""
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=10**6), max_size=4)))
    starts = [0, *bounds]
    tops = [*bounds, None]
    return tuple(
        Tier(Decimal(start), None if top is None else Decimal(top), draw(unit_prices), draw(amounts(50)))
        for start, top in zip(starts, tops, strict=True)
    )


def model_fields(model):
    """Strategy for the fields one model needs (and, for percentage, may use)."""
    if model is PriceModel.FLAT:
        return st.fixed_dictionaries({"flat_amount": amounts()})
    if model is PriceModel.PER_UNIT:
        return st.fixed_dictionaries({"unit_price": unit_prices})
    if model in (PriceModel.GRADUATED, PriceModel.VOLUME):
        return st.fixed_dictionaries({"tiers": tier_lists()})
    if model is PriceModel.PACKAGE:
        return st.fixed_dictionaries(
            {
                "package_size": st.decimals(min_value="0.5", max_value=1000, places=1),
                "package_price": amounts(),
                "package_rounding": st.sampled_from(["up", "down"]),
            }
        )
    return st.fixed_dictionaries(
        {"percentage": st.decimals(min_value=0, max_value=100, places=2)},
        optional={"fixed_fee_per_event": amounts(2)},
    ).flatmap(_with_event_clamps)


def _with_event_clamps(fields):
    low, high = st.none() | amounts(5), st.none() | amounts(50)
    return st.tuples(low, high).map(
        lambda pair: {**fields, **_ordered("min_per_event", pair[0], "max_per_event", pair[1])}
    )


def _ordered(low_name, low, high_name, high):
    """Min and max as keyword fields, swapped if needed so that min <= max."""
    if low is not None and high is not None and low > high:
        low, high = high, low
    return {name: value for name, value in ((low_name, low), (high_name, high)) if value is not None}


@st.composite
def specs(draw, models=tuple(PriceModel), clamps=True):
    model = draw(st.sampled_from(models))
    fields = draw(model_fields(model))
    if clamps:
        fields |= _ordered("minimum_charge", draw(st.none() | amounts()), "maximum_charge", draw(st.none() | amounts()))
    return PriceSpec(
        model=model,
        currency=draw(currencies),
        included_units=draw(st.sampled_from([ZERO, Decimal(1), Decimal(100)]) | quantities),
        rounding=draw(st.sampled_from(["half_up", "half_even", "down", "up"])),
        **fields,
    )


@st.composite
def usages(draw):
    """Usage with each event's amount, so per-event clamps can be rated too."""
    values = draw(st.lists(amounts(10**5), max_size=20))
    return Usage(quantity=sum(values, ZERO), event_values=tuple(values))


@given(spec=specs(), usage=usages())
def test_breakdown_sums_to_line_amount(spec, usage):
    line = rate(spec, usage)

    assert sum((item.amount for item in line.breakdown), ZERO) == line.amount
    for item in line.breakdown:
        assert item.amount == item.quantity * item.unit_price + item.flat_fee
    assert line.included_quantity + line.billable_quantity == line.quantity


@given(spec=specs(), usage=usages())
def test_no_negative_amounts_from_non_negative_prices(spec, usage):
    line = rate(spec, usage)

    assert line.amount >= 0
    assert line.rounded_amount() >= 0


@given(spec=specs(models=(PriceModel.GRADUATED,)), quantity=quantities, more=quantities)
def test_graduated_amount_never_decreases_as_quantity_grows(spec, quantity, more):
    assert rate(spec, quantity + more).amount >= rate(spec, quantity).amount


@given(
    spec=specs(
        models=(PriceModel.PER_UNIT, PriceModel.GRADUATED, PriceModel.VOLUME, PriceModel.PACKAGE),
        clamps=False,
    ),
    share=st.decimals(min_value=0, max_value=1, places=3),
)
def test_included_units_never_bill(spec, share):
    quantity = spec.included_units * share  # never above the included units

    line = rate(spec, quantity)

    assert line.amount == 0
    assert line.billable_quantity == 0


@given(
    unit_price=unit_prices,
    flat_fee=amounts(50),
    included=st.sampled_from([ZERO, Decimal(10)]),
    quantity=quantities,
)
def test_volume_and_graduated_agree_with_one_tier(unit_price, flat_fee, included, quantity):
    tier = (Tier(ZERO, None, unit_price, flat_fee),)
    graduated = PriceSpec(model=PriceModel.GRADUATED, currency="USD", tiers=tier, included_units=included)
    volume = PriceSpec(model=PriceModel.VOLUME, currency="USD", tiers=tier, included_units=included)

    assert rate(graduated, quantity).amount == rate(volume, quantity).amount


@given(spec=specs(), usage=usages())
def test_rounding_moves_the_amount_by_less_than_one_minor_unit(spec, usage):
    line = rate(spec, usage)

    minor = Decimal(1).scaleb(-{"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3}[line.currency])
    assert abs(line.rounded_amount() - line.amount) < minor
    assert line.rounded_amount() == line.rounded_amount().quantize(minor)
