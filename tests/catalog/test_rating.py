"""Golden cases for the rating engine; every expected amount is worked out by hand beside it."""

import decimal
from decimal import Decimal as D

import pytest

from catalog.rating import (
    BreakdownItem,
    DimensionalPriceSpec,
    PriceModel,
    PriceSpec,
    PriceSpecError,
    Tier,
    UnpricedGroupError,
    Usage,
    UsageError,
    rate,
    rate_dimensional,
    validate_spec,
)
from revops.money import MoneyValueError

DASH = "\u2013"  # en dash, as the engine prints tier ranges


# --- spec builders --------------------------------------------------------------------------------------


def flat(amount, **extra):
    return PriceSpec(model=PriceModel.FLAT, currency="USD", flat_amount=D(amount), **extra)


def per_unit(price, currency="USD", **extra):
    return PriceSpec(model=PriceModel.PER_UNIT, currency=currency, unit_price=D(price), **extra)


def tiers(*rows):
    """rows: (start, up_to or None, unit_price[, flat_fee]) as strings."""
    return tuple(
        Tier(D(row[0]), None if row[1] is None else D(row[1]), D(row[2]), D(row[3]) if len(row) > 3 else D(0))
        for row in rows
    )


# 1.00 for units 1-100, 0.80 for 101-1,000, 0.50 above 1,000.
THREE_TIERS = tiers(("0", "100", "1.00"), ("100", "1000", "0.80"), ("1000", None, "0.50"))
# Tier 1 free but 5.00 to enter; tier 2 0.10 a unit and 2.00 to enter.
FEE_TIERS = tiers(("0", "10", "0", "5.00"), ("10", None, "0.10", "2.00"))


def graduated(tier_rows=THREE_TIERS, **extra):
    return PriceSpec(model=PriceModel.GRADUATED, currency="USD", tiers=tier_rows, **extra)


def volume(tier_rows=THREE_TIERS, **extra):
    return PriceSpec(model=PriceModel.VOLUME, currency="USD", tiers=tier_rows, **extra)


def package(size="100", price="5.00", rounding="up", **extra):
    return PriceSpec(
        model=PriceModel.PACKAGE,
        currency="USD",
        package_size=D(size),
        package_price=D(price),
        package_rounding=rounding,
        **extra,
    )


def percentage(pct, **extra):
    return PriceSpec(model=PriceModel.PERCENTAGE, currency="USD", percentage=D(pct), **extra)


def events(*values):
    """Usage for a percentage price from each event's amount."""
    amounts = tuple(D(v) for v in values)
    return Usage(quantity=sum(amounts, D(0)), event_values=amounts)


# --- golden amounts -------------------------------------------------------------------------------------

GOLDEN = [
    # FLAT: the fee per period, whatever the quantity.
    pytest.param(flat("49.00"), D(0), "49.00", "49.00", id="flat-zero-usage"),
    pytest.param(flat("49.00"), D(10**12), "49.00", "49.00", id="flat-huge-usage"),
    # PER_UNIT
    pytest.param(per_unit("0.10"), D(0), "0", "0.00", id="per-unit-zero"),
    pytest.param(per_unit("0.10"), D(250), "25.00", "25.00", id="per-unit-250"),  # 250 x 0.10
    # 1,234,567 x 0.000002 = 2.469134 -> 2.47
    pytest.param(per_unit("0.000002"), D(1_234_567), "2.469134", "2.47", id="per-unit-token-price"),
    # 10^12 x 0.000002 = 2,000,000
    pytest.param(per_unit("0.000002"), D(10**12), "2000000", "2000000.00", id="per-unit-huge"),
    # 12 decimal places: 10^12 x 0.123456789012 = 123,456,789,012 exactly
    pytest.param(per_unit("0.123456789012"), D(10**12), "123456789012", "123456789012.00", id="per-unit-12dp"),
    # no digit lost: (10^12 - 1) x (1 - 10^-12) = 10^12 - 2 + 10^-12 = 999,999,999,998.000000000001
    pytest.param(
        per_unit("0.999999999999"),
        D(10**12 - 1),
        "999999999998.000000000001",
        "999999999998.00",
        id="per-unit-exact-25-digits",
    ),
    # beyond Python's default 28 digits: (10^17 - 1) x (1 - 10^-12) = 10^17 - 1 - 10^5 + 10^-12
    pytest.param(
        per_unit("0.999999999999"),
        D(10**17 - 1),
        "99999999999899999.000000000001",
        "99999999999899999.00",
        id="per-unit-exact-29-digits",
    ),
    # 2.5 units x 0.10 = 0.25 (fractional quantities are fine)
    pytest.param(per_unit("0.10"), D("2.5"), "0.25", "0.25", id="per-unit-fractional"),
    # GRADUATED over THREE_TIERS
    pytest.param(graduated(), D(0), "0", "0.00", id="graduated-zero"),
    pytest.param(graduated(), D(100), "100.00", "100.00", id="graduated-on-boundary-100"),  # 100 x 1.00
    # 100 x 1.00 + 1 x 0.80 = 100.80
    pytest.param(graduated(), D(101), "100.80", "100.80", id="graduated-one-past-boundary"),
    # 100 x 1.00 + 900 x 0.80 = 100 + 720 = 820
    pytest.param(graduated(), D(1000), "820.00", "820.00", id="graduated-on-boundary-1000"),
    # 820 + 1 x 0.50 = 820.50
    pytest.param(graduated(), D(1001), "820.50", "820.50", id="graduated-one-past-1000"),
    # 820 + (10^12 - 1,000) x 0.50 = 820 + 499,999,999,500 = 500,000,000,320
    pytest.param(graduated(), D(10**12), "500000000320.00", "500000000320.00", id="graduated-huge"),
    # 50.5 x 1.00 = 50.50
    pytest.param(graduated(), D("50.5"), "50.50", "50.50", id="graduated-fractional"),
    # GRADUATED with tier flat fees (FEE_TIERS)
    pytest.param(graduated(FEE_TIERS), D(0), "0", "0.00", id="graduated-fees-zero"),  # no tier touched
    pytest.param(graduated(FEE_TIERS), D(10), "5.00", "5.00", id="graduated-fees-tier1-only"),  # 10 x 0 + 5
    # tier 1: 5.00; tier 2: 0.5 x 0.10 + 2.00 = 2.05 -> 7.05 (a part of a unit enters the tier)
    pytest.param(graduated(FEE_TIERS), D("10.5"), "7.05", "7.05", id="graduated-fees-part-unit"),
    # VOLUME over THREE_TIERS
    pytest.param(volume(), D(0), "0", "0.00", id="volume-zero"),
    pytest.param(volume(), D(100), "100.00", "100.00", id="volume-on-boundary-100"),  # 100 x 1.00
    pytest.param(volume(), D(101), "80.80", "80.80", id="volume-one-past-boundary"),  # 101 x 0.80
    pytest.param(volume(), D(1000), "800.00", "800.00", id="volume-on-boundary-1000"),  # 1,000 x 0.80
    pytest.param(volume(), D(1001), "500.50", "500.50", id="volume-one-past-1000"),  # 1,001 x 0.50
    pytest.param(volume(), D(10**12), "500000000000", "500000000000.00", id="volume-huge"),  # 10^12 x 0.5
    # VOLUME with flat fees: zero bills nothing, not even tier 1's 5.00
    pytest.param(volume(FEE_TIERS), D(0), "0", "0.00", id="volume-fees-zero"),
    pytest.param(volume(FEE_TIERS), D(10), "5.00", "5.00", id="volume-fees-tier1"),  # 10 x 0 + 5.00
    pytest.param(volume(FEE_TIERS), D(11), "3.10", "3.10", id="volume-fees-tier2"),  # 11 x 0.10 + 2.00
    # PACKAGE: blocks of 100 at 5.00
    pytest.param(package(), D(0), "0", "0.00", id="package-zero"),  # 0 blocks
    pytest.param(package(), D(100), "5.00", "5.00", id="package-up-exactly-n"),  # ceil(1) = 1 block
    pytest.param(package(), D(101), "10.00", "10.00", id="package-up-n-plus-1"),  # ceil(1.01) = 2 blocks
    pytest.param(package(), D("0.5"), "5.00", "5.00", id="package-up-part-block"),  # ceil(0.005) = 1
    pytest.param(package(rounding="down"), D(99), "0", "0.00", id="package-down-below-n"),  # floor(0.99) = 0
    pytest.param(package(rounding="down"), D(100), "5.00", "5.00", id="package-down-exactly-n"),  # 1 block
    pytest.param(package(rounding="down"), D(101), "5.00", "5.00", id="package-down-n-plus-1"),  # 1 block
    pytest.param(package(rounding="down"), D(200), "10.00", "10.00", id="package-down-2n"),  # 2 blocks
    # 10^12 / 100 = 10^10 blocks x 5.00 = 50,000,000,000
    pytest.param(package(), D(10**12), "50000000000", "50000000000.00", id="package-huge"),
    # PERCENTAGE
    # 1,000 x 2.9% = 29.00; 10 events x 0.30 = 3.00; total 32.00
    pytest.param(
        percentage("2.9", fixed_fee_per_event=D("0.30")),
        Usage(D(1000), event_count=10),
        "32.00",
        "32.00",
        id="percentage-with-fixed-fee",
    ),
    pytest.param(percentage("2.9"), D(0), "0", "0.00", id="percentage-zero"),
    # 123.45 x 2.9% = 3.58005 -> 3.58
    pytest.param(percentage("2.9"), D("123.45"), "3.58005", "3.58", id="percentage-unrounded-inside"),
    # per event 1%: 10 -> 0.10 raised to 0.50; 100 -> 1.00; 1,000 -> 10.00 capped at 5.00; 6.50
    pytest.param(
        percentage("1", min_per_event=D("0.50"), max_per_event=D("5.00")),
        events("10", "100", "1000"),
        "6.50",
        "6.50",
        id="percentage-per-event-min-and-max",
    ),
    # 10 x 1% + 0.30 = 0.40 -> raised to 0.50 (the fixed fee is inside the clamp)
    pytest.param(
        percentage("1", fixed_fee_per_event=D("0.30"), min_per_event=D("0.50")),
        events("10"),
        "0.50",
        "0.50",
        id="percentage-fixed-fee-inside-min",
    ),
    # 2 events of 600 at 1% = 6.00 each, capped at 5.00 -> 10.00
    pytest.param(
        percentage("1", max_per_event=D("5.00")),
        events("600", "600"),
        "10.00",
        "10.00",
        id="percentage-max-only",
    ),
    # LINE CLAMPS
    pytest.param(per_unit("0.10", minimum_charge=D(5)), D(0), "5", "5.00", id="minimum-at-zero-usage"),
    # 10 x 0.10 = 1.00 -> raised to 5.00
    pytest.param(per_unit("0.10", minimum_charge=D(5)), D(10), "5", "5.00", id="minimum-raises"),
    # 100 x 0.10 = 10.00 is above the minimum: unchanged
    pytest.param(per_unit("0.10", minimum_charge=D(5)), D(100), "10.00", "10.00", id="minimum-not-needed"),
    # 100 x 0.10 = 10.00 is below the maximum: unchanged
    pytest.param(per_unit("0.10", maximum_charge=D(20)), D(100), "10.00", "10.00", id="maximum-not-needed"),
    # 1,000 x 0.10 = 100.00 -> capped at 20
    pytest.param(per_unit("0.10", maximum_charge=D(20)), D(1000), "20", "20.00", id="maximum-caps"),
    pytest.param(flat("49.00", maximum_charge=D(40)), D(0), "40", "40.00", id="maximum-caps-flat"),
    # 5 x 0.10 = 0.50 -> minimum 1; the maximum 100 does not apply
    pytest.param(per_unit("0.10", minimum_charge=D(1), maximum_charge=D(100)), D(5), "1", "1.00", id="min-and-max-min"),
    # INCLUDED UNITS (100 free)
    pytest.param(per_unit("0.10", included_units=D(100)), D(50), "0", "0.00", id="included-below"),
    pytest.param(per_unit("0.10", included_units=D(100)), D(100), "0", "0.00", id="included-equal"),
    # 150 - 100 = 50 billable x 0.10 = 5.00
    pytest.param(per_unit("0.10", included_units=D(100)), D(150), "5.00", "5.00", id="included-above"),
    # 1,100 - 100 = 1,000 billable, graduated from tier 1: 100 x 1.00 + 900 x 0.80 = 820
    pytest.param(graduated(included_units=D(100)), D(1100), "820.00", "820.00", id="included-graduated"),
    # 1,100 - 100 = 1,000 billable: volume tier 2, 1,000 x 0.80 = 800
    pytest.param(volume(included_units=D(100)), D(1100), "800.00", "800.00", id="included-volume"),
    # 250 - 100 = 150 billable: ceil(1.5) = 2 blocks x 5.00 = 10
    pytest.param(package(included_units=D(100)), D(250), "10.00", "10.00", id="included-package"),
    # included with a minimum: 50 units all free, the minimum still bills 5
    pytest.param(
        per_unit("0.10", included_units=D(100), minimum_charge=D(5)),
        D(50),
        "5",
        "5.00",
        id="included-minimum",
    ),
    # included volume 100: (1,000 - 100) x 2.9% = 26.10; 10 events x 0.30 = 3.00; 29.10
    pytest.param(
        percentage("2.9", fixed_fee_per_event=D("0.30"), included_units=D(100)),
        Usage(D(1000), event_count=10),
        "29.10",
        "29.10",
        id="included-percentage-volume",
    ),
    # included volume 50 taken from events in order: 30 (all free), 40 (20 free), 1,000.
    # fees at 1%: 0 -> 0.50 (min), 20 x 1% = 0.20 -> 0.50 (min), 1,000 x 1% = 10.00; total 11.00
    pytest.param(
        percentage("1", min_per_event=D("0.50"), included_units=D(50)),
        events("30", "40", "1000"),
        "11.00",
        "11.00",
        id="included-percentage-per-event",
    ),
    # ROUNDING ONCE, per line
    # 3 x 0.005 = 0.015 -> 0.02 half-up
    pytest.param(per_unit("0.005"), D(3), "0.015", "0.02", id="round-half-up"),
    # 5 x 0.005 = 0.025 -> 0.02 half-even (2 is even); half-up would give 0.03
    pytest.param(per_unit("0.005", rounding="half_even"), D(5), "0.025", "0.02", id="round-half-even"),
    # 0.019 -> 0.01 rounding down
    pytest.param(per_unit("0.019", rounding="down"), D(1), "0.019", "0.01", id="round-down"),
    # JPY has 0 decimals: 3 x 0.5 = 1.5 -> 2; 5 x 0.5 = 2.5 -> 3 (half-up)
    pytest.param(per_unit("0.5", currency="JPY"), D(3), "1.5", "2", id="round-jpy-1.5"),
    pytest.param(per_unit("0.5", currency="JPY"), D(5), "2.5", "3", id="round-jpy-2.5"),
    # KWD has 3 decimals: 1 x 0.0005 = 0.0005 -> 0.001
    pytest.param(per_unit("0.0005", currency="KWD"), D(1), "0.0005", "0.001", id="round-kwd-3-decimals"),
]


@pytest.mark.parametrize(("spec", "usage", "amount", "rounded"), GOLDEN)
def test_golden_amounts(spec, usage, amount, rounded):
    line = rate(spec, usage)

    assert line.amount == D(amount)
    assert str(line.rounded_amount()) == rounded
    with decimal.localcontext(prec=50):  # Python's default 28 digits would round the 29-digit case
        assert sum((item.amount for item in line.breakdown), D(0)) == line.amount


# --- breakdowns -----------------------------------------------------------------------------------------


def test_graduated_breakdown_has_one_item_per_touched_tier():
    line = rate(graduated(), D(1001))

    assert line.breakdown == (
        BreakdownItem(f"Tier 1: 1{DASH}100 units", D(100), D("1.00"), D(0), D("100.00"), tier=1),
        BreakdownItem(f"Tier 2: 101{DASH}1,000 units", D(900), D("0.80"), D(0), D("720.00"), tier=2),
        BreakdownItem("Tier 3: over 1,000 units", D(1), D("0.50"), D(0), D("0.50"), tier=3),
    )
    # effective average: 820.50 / 1,001 = 0.819680319680... (12 places)
    assert line.unit_price == D("0.819680319680")


def test_graduated_breakdown_stops_at_the_reached_tier():
    line = rate(graduated(), D(100))

    assert [item.tier for item in line.breakdown] == [1]
    assert line.unit_price == D(1)  # 100.00 / 100


def test_graduated_tier_flat_fee_is_in_its_item():
    line = rate(graduated(FEE_TIERS), D("10.5"))

    assert line.breakdown[1] == BreakdownItem(
        "Tier 2: over 10 units", D("0.5"), D("0.10"), D("2.00"), D("2.05"), tier=2
    )


def test_volume_breakdown_is_the_reached_tier_for_all_units():
    line = rate(volume(), D(101))

    assert line.unit_price == D("0.80")
    assert line.breakdown == (
        BreakdownItem(
            f"Tier 2: 101{DASH}1,000 units, price applied to all units",
            D(101),
            D("0.80"),
            D(0),
            D("80.80"),
            2,
        ),
    )


def test_zero_usage_graduated_and_volume_have_empty_breakdowns():
    assert rate(graduated(), D(0)).breakdown == ()
    assert rate(volume(), D(0)).breakdown == ()
    assert rate(graduated(), D(0)).unit_price == 0


def test_package_breakdown_counts_blocks():
    line = rate(package(), D(101))

    assert line.unit_price == D("5.00")  # the price per package
    assert line.breakdown == (
        BreakdownItem("Packages of 100 units (every started package)", D(2), D("5.00"), D(0), D("10.00")),
    )
    assert rate(package(rounding="down"), D(101)).breakdown[0].description == (
        "Packages of 100 units (complete packages only)"
    )


def test_flat_breakdown_is_one_row():
    line = rate(flat("49.00"), D(7))

    assert line.breakdown == (BreakdownItem("Flat fee per period", D(1), D("49.00"), D(0), D("49.00")),)
    assert line.quantity == D(7)


def test_per_unit_breakdown():
    line = rate(per_unit("0.000002"), D(1_234_567))

    assert line.breakdown == (BreakdownItem("Per unit", D(1_234_567), D("0.000002"), D(0), D("2.469134")),)


def test_included_units_row_and_quantities():
    line = rate(per_unit("0.10", included_units=D(100)), D(150))

    assert (line.quantity, line.included_quantity, line.billable_quantity) == (D(150), D(100), D(50))
    assert line.breakdown == (
        BreakdownItem("Included units (no charge)", D(100), D(0), D(0), D(0)),
        BreakdownItem("Per unit", D(50), D("0.10"), D(0), D("5.00")),
    )


def test_included_larger_than_usage_absorbs_only_the_usage():
    line = rate(per_unit("0.10", included_units=D(100)), D(30))

    assert (line.included_quantity, line.billable_quantity, line.amount) == (D(30), D(0), D(0))


def test_minimum_charge_is_its_own_row():
    line = rate(per_unit("0.10", minimum_charge=D(5)), D(10))

    # usage 10 x 0.10 = 1.00; minimum 5 adds 4.00
    assert line.breakdown[-1] == BreakdownItem("Minimum charge 5 (usage came to 1)", D(1), D("4.00"), D(0), D("4.00"))
    assert line.unit_price == D("0.10")  # the clamp does not change the price used


def test_maximum_charge_is_a_negative_row():
    line = rate(per_unit("0.10", maximum_charge=D(20)), D(1000))

    # usage 1,000 x 0.10 = 100.00; maximum 20 takes off 80.00
    assert line.breakdown[-1] == BreakdownItem(
        "Maximum charge 20 (usage came to 100)", D(1), D("-80.00"), D(0), D("-80.00")
    )


def test_percentage_breakdown_with_fixed_fee():
    line = rate(percentage("2.9", fixed_fee_per_event=D("0.30")), Usage(D(1000), event_count=10))

    assert line.unit_price == D("0.029")
    assert line.breakdown == (
        BreakdownItem("2.9% of volume", D(1000), D("0.029"), D(0), D("29.000")),
        BreakdownItem("Fixed fee per event", D(10), D("0.30"), D(0), D("3.00")),
    )


def test_percentage_per_event_clamps_are_summarised_rows():
    spec = percentage("1", min_per_event=D("0.50"), max_per_event=D("5.00"))
    line = rate(spec, events("10", "20", "100", "1000"))

    # 1% of 1,130 = 11.30; 10 -> 0.10 and 20 -> 0.20 both raised to 0.50 (+0.40 +0.30 = +0.70);
    # 1,000 -> 10.00 capped at 5.00 (-5.00). 11.30 + 0.70 - 5.00 = 7.00 = 0.50 + 0.50 + 1.00 + 5.00
    assert line.breakdown == (
        BreakdownItem("1% of volume", D(1130), D("0.01"), D(0), D("11.30")),
        BreakdownItem("Minimum per event 0.5 (2 events raised)", D(1), D("0.70"), D(0), D("0.70")),
        BreakdownItem("Maximum per event 5 (1 event capped)", D(1), D("-5.00"), D(0), D("-5.00")),
    )
    assert line.amount == D("7.00")


def test_percentage_included_volume_row():
    line = rate(percentage("2.9", included_units=D(100)), D(1000))

    assert line.breakdown[0] == BreakdownItem("Included volume (no charge)", D(100), D(0), D(0), D(0))


@pytest.mark.parametrize(
    ("tier_rows", "labels"),
    [
        pytest.param(
            THREE_TIERS,
            [f"Tier 1: 1{DASH}100 units", f"Tier 2: 101{DASH}1,000 units", "Tier 3: over 1,000 units"],
            id="whole-units",
        ),
        pytest.param(
            tiers(("0", "0.5", "1"), ("0.5", "10", "2"), ("10", None, "3")),
            ["Tier 1: up to 0.5 units", "Tier 2: over 0.5 up to 10 units", "Tier 3: over 10 units"],
            id="fractional-boundaries",
        ),
        pytest.param(tiers(("0", None, "1")), ["Tier 1: all units"], id="single-tier"),
    ],
)
def test_tier_labels(tier_rows, labels):
    line = rate(graduated(tier_rows), D(10**6))

    assert [item.description for item in line.breakdown] == labels


def test_line_carries_currency_model_and_rounding():
    line = rate(per_unit("1", currency="eur", rounding="half_even"), D(1))

    assert (line.currency, line.model, line.rounding, line.group) == (
        "EUR",
        PriceModel.PER_UNIT,
        "half_even",
        None,
    )


def test_usage_may_be_given_as_a_usage():
    assert rate(per_unit("0.10"), Usage(D(250))).amount == D("25.00")


# --- dimensional ----------------------------------------------------------------------------------------

TOKENS = DimensionalPriceSpec(
    group_key="model",
    prices={"gpt-large": per_unit("0.00003"), "gpt-small": per_unit("0.000002")},
    default=per_unit("0.00001"),
)


def test_dimensional_one_line_per_group_sorted_with_default():
    lines = rate_dimensional(TOKENS, {"gpt-small": D(1_000_000), "other": D(500), "gpt-large": D(10_000)})

    assert [line.group for line in lines] == ["gpt-large", "gpt-small", "other"]
    # 10,000 x 0.00003 = 0.30; 1,000,000 x 0.000002 = 2.00; 500 x 0.00001 (default) = 0.005 -> 0.01
    assert [line.amount for line in lines] == [D("0.3"), D("2"), D("0.005")]
    assert [line.rounded_amount() for line in lines] == [D("0.30"), D("2.00"), D("0.01")]


def test_dimensional_usage_objects_and_empty_usage():
    assert rate_dimensional(TOKENS, {}) == []
    (line,) = rate_dimensional(TOKENS, {"gpt-large": Usage(D(100))})
    assert line.amount == D("0.003")  # 100 x 0.00003


def test_dimensional_unpriced_group_without_default_names_every_value():
    spec = DimensionalPriceSpec(group_key="model", prices={"gpt-large": per_unit("0.00003")}, default=None)

    with pytest.raises(UnpricedGroupError) as raised:
        rate_dimensional(spec, {"gpt-large": D(1), "gpt-tiny": D(2), "gpt-huge": D(3)})

    assert raised.value.groups == ["gpt-huge", "gpt-tiny"]
    assert str(raised.value) == "no price for model 'gpt-huge', 'gpt-tiny' and no default price"


# --- usage errors ---------------------------------------------------------------------------------------


def test_per_event_clamps_need_event_values():
    spec = percentage("1", min_per_event=D("0.50"))

    with pytest.raises(UsageError, match="pass each event's amount in event_values"):
        rate(spec, Usage(D(100), event_count=3))


@pytest.mark.parametrize(
    ("make_usage", "message"),
    [
        pytest.param(lambda: Usage(D(-1)), "quantity -1 is negative", id="negative-quantity"),
        pytest.param(lambda: Usage(D(1), event_count=-1), "event_count -1 is negative", id="negative-count"),
        pytest.param(
            lambda: Usage(D(100), event_values=(D(10), D(20))),
            "not the sum of event_values",
            id="sum-mismatch",
        ),
        pytest.param(
            lambda: Usage(D(30), event_count=3, event_values=(D(10), D(20))),
            "event_count 3 but 2 event_values",
            id="count-mismatch",
        ),
        pytest.param(lambda: Usage(D(0), event_values=(D(10), D(-10))), "must not be negative", id="negative-event"),
    ],
)
def test_impossible_usage_is_refused(make_usage, message):
    with pytest.raises(UsageError, match=message):
        make_usage()


def test_event_count_defaults_to_number_of_event_values():
    assert Usage(D(30), event_values=(D(10), D(20))).event_count == 2


def test_floats_are_refused():
    with pytest.raises(MoneyValueError):
        rate(per_unit("0.10"), 1.5)
    with pytest.raises(MoneyValueError):
        PriceSpec(model=PriceModel.PER_UNIT, currency="USD", unit_price=0.1)


def test_rate_refuses_an_invalid_spec():
    with pytest.raises(PriceSpecError):
        rate(per_unit("-1"), D(1))


# --- validation: every refusal with its message ---------------------------------------------------------

REFUSALS = [
    pytest.param(per_unit("1", currency="ABC"), "currency", "'ABC' is not a known ISO 4217 currency code"),
    pytest.param(per_unit("1", currency="US"), "currency", "'US' is not an ISO 4217 currency code"),
    pytest.param(
        per_unit("1", rounding="bankers"),
        "rounding",
        "unknown rounding mode 'bankers'; use one of ['ceiling', 'down', 'floor', 'half_even', 'half_up', 'up']",
    ),
    pytest.param(PriceSpec(model=PriceModel.PER_UNIT, currency="USD"), "unit_price", "per_unit prices need unit_price"),
    pytest.param(PriceSpec(model=PriceModel.FLAT, currency="USD"), "flat_amount", "flat prices need flat_amount"),
    pytest.param(
        PriceSpec(model=PriceModel.PACKAGE, currency="USD", package_size=D(10)),
        "package_price",
        "package prices need package_price",
    ),
    pytest.param(
        PriceSpec(model=PriceModel.PERCENTAGE, currency="USD"),
        "percentage",
        "percentage prices need percentage",
    ),
    pytest.param(
        PriceSpec(model=PriceModel.GRADUATED, currency="USD"),
        "tiers",
        "graduated prices need at least one tier",
    ),
    pytest.param(PriceSpec(model=PriceModel.VOLUME, currency="USD"), "tiers", "volume prices need at least one tier"),
    pytest.param(per_unit("1", tiers=THREE_TIERS), "tiers", "tiers does not apply to per_unit prices"),
    pytest.param(flat("1", min_per_event=D(1)), "min_per_event", "min_per_event does not apply to flat prices"),
    pytest.param(per_unit("-0.01"), "unit_price", "must not be negative, not -0.01"),
    pytest.param(flat("-5"), "flat_amount", "must not be negative, not -5"),
    pytest.param(package(price="-1"), "package_price", "must not be negative, not -1"),
    pytest.param(
        percentage("1", fixed_fee_per_event=D("-0.30")),
        "fixed_fee_per_event",
        "must not be negative, not -0.3",
    ),
    pytest.param(per_unit("1", minimum_charge=D(-1)), "minimum_charge", "must not be negative, not -1"),
    pytest.param(per_unit("0.0000000000001"), "unit_price", "0.0000000000001 has more than 12 decimal places"),
    pytest.param(
        graduated(tiers(("0", None, "0.0000000000001"))),
        "tiers[0].unit_price",
        "0.0000000000001 has more than 12 decimal places",
    ),
    pytest.param(graduated(tiers(("0", None, "1", "-2"))), "tiers[0].flat_fee", "must not be negative, not -2"),
    pytest.param(
        graduated(tiers(("10", "100", "1"), ("100", None, "1"))),
        "tiers[0].start",
        "tier 1 must start at 0, not 10",
    ),
    pytest.param(
        graduated(tiers(("0", "100", "1"), ("150", None, "1"))),
        "tiers[1].start",
        "tier 2 starts at 150 but tier 1 ends at 100 (a gap)",
    ),
    pytest.param(
        volume(tiers(("0", "100", "1"), ("50", None, "1"))),
        "tiers[1].start",
        "tier 2 starts at 50 but tier 1 ends at 100 (an overlap)",
    ),
    pytest.param(
        graduated(tiers(("0", "100", "1"), ("100", "100", "1"), ("100", None, "1"))),
        "tiers[1].up_to",
        "tier 2 ends at 100, not above its start 100",
    ),
    pytest.param(
        graduated(tiers(("0", None, "1"), ("100", None, "1"))),
        "tiers[0].up_to",
        "only the last tier may be unbounded, but tier 1 is and tier 2 follows",
    ),
    pytest.param(
        graduated(tiers(("0", "100", "1"), ("100", "1000", "1"))),
        "tiers[1].up_to",
        "the last tier must be unbounded, but tier 2 ends at 1,000",
    ),
    pytest.param(package(size="0"), "package_size", "must be greater than 0, not 0"),
    pytest.param(package(size="-10"), "package_size", "must be greater than 0, not -10"),
    pytest.param(package(rounding="nearest"), "package_rounding", "must be 'up' or 'down', not 'nearest'"),
    pytest.param(percentage("100.01"), "percentage", "must be between 0 and 100, not 100.01"),
    pytest.param(percentage("-1"), "percentage", "must be between 0 and 100, not -1"),
    pytest.param(
        percentage("1", min_per_event=D(5), max_per_event=D(1)),
        "min_per_event",
        "min_per_event 5 is above max_per_event 1",
    ),
    pytest.param(
        per_unit("1", minimum_charge=D(100), maximum_charge=D(50)),
        "minimum_charge",
        "minimum_charge 100 is above maximum_charge 50",
    ),
    pytest.param(per_unit("1", included_units=D(-1)), "included_units", "must not be negative, not -1"),
]


@pytest.mark.parametrize(("spec", "field", "message"), REFUSALS)
def test_validate_spec_refuses(spec, field, message):
    with pytest.raises(PriceSpecError) as raised:
        validate_spec(spec)

    assert (field, message) in raised.value.problems


@pytest.mark.parametrize(
    "spec",
    [
        flat("0"),
        per_unit("0.000000000001"),  # exactly 12 places
        graduated(),
        volume(FEE_TIERS),
        graduated(tiers(("0", None, "1"))),
        package(size="0.5"),
        percentage("0"),
        percentage("100", fixed_fee_per_event=D("0.30"), min_per_event=D("0.50"), max_per_event=D("0.50")),
        per_unit("1", minimum_charge=D(5), maximum_charge=D(5), included_units=D(0)),
    ],
)
def test_validate_spec_accepts(spec):
    assert validate_spec(spec) is None


def test_validate_spec_collects_every_problem():
    spec = PriceSpec(
        model=PriceModel.GRADUATED,
        currency="ABC",
        tiers=tiers(("10", "100", "-1"), ("150", "120", "1"), ("100", None, "1")),
        unit_price=D(1),
    )

    with pytest.raises(PriceSpecError) as raised:
        validate_spec(spec)

    assert raised.value.problems == [
        ("currency", "'ABC' is not a known ISO 4217 currency code"),
        ("unit_price", "unit_price does not apply to graduated prices"),
        ("tiers[0].start", "tier 1 must start at 0, not 10"),
        ("tiers[0].unit_price", "must not be negative, not -1"),
        ("tiers[1].up_to", "tier 2 ends at 120, not above its start 150"),
        ("tiers[1].start", "tier 2 starts at 150 but tier 1 ends at 100 (a gap)"),
        ("tiers[2].start", "tier 3 starts at 100 but tier 2 ends at 120 (an overlap)"),
    ]
    assert str(raised.value).startswith("currency: 'ABC' is not a known ISO 4217 currency code; unit_price: ")


def test_dimensional_prices_in_two_currencies_are_refused():
    spec = DimensionalPriceSpec(
        group_key="model",
        prices={"gpt-large": per_unit("1"), "gpt-small": per_unit("1", currency="EUR")},
        default=per_unit("1"),
    )

    with pytest.raises(PriceSpecError) as raised:
        validate_spec(spec)

    assert raised.value.problems == [
        ("currency", "all prices must share one currency, found EUR (gpt-small), USD (gpt-large, default)")
    ]


def test_dimensional_problems_name_the_group():
    spec = DimensionalPriceSpec(group_key="", prices={"gpt-large": per_unit("-1")}, default=flat("-2"))

    with pytest.raises(PriceSpecError) as raised:
        rate_dimensional(spec, {"gpt-large": D(1)})

    assert raised.value.problems == [
        ("group_key", "name the usage property whose value selects the price"),
        ("prices[gpt-large].unit_price", "must not be negative, not -1"),
        ("default.flat_amount", "must not be negative, not -2"),
    ]


def test_dimensional_needs_a_price():
    with pytest.raises(PriceSpecError) as raised:
        validate_spec(DimensionalPriceSpec(group_key="model", prices={}, default=None))

    assert raised.value.problems == [("prices", "a dimensional price needs at least one price or a default")]
