import decimal
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revops.money import (
    DEFAULT_ROUNDING,
    CurrencyError,
    Money,
    MoneyValueError,
    minor_unit,
    minor_unit_exponent,
    multiply,
    quantize_rate,
    round_amount,
    rounding_mode,
    sum_money,
    to_decimal,
    validate_currency,
)

# --- Currencies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "exponent", "unit"),
    [
        ("USD", 2, Decimal("0.01")),
        ("EUR", 2, Decimal("0.01")),
        ("JPY", 0, Decimal("1")),
        ("KWD", 3, Decimal("0.001")),
        ("usd", 2, Decimal("0.01")),
    ],
)
def test_currency_precision_comes_from_babel(currency, exponent, unit):
    assert minor_unit_exponent(currency) == exponent
    assert minor_unit(currency) == unit


@pytest.mark.parametrize("code", ["usd", "Usd", "USD"])
def test_validate_currency_upper_cases(code):
    assert validate_currency(code) == "USD"


@pytest.mark.parametrize("code", ["ABC", "QQQ", "US", "USDX", "", "12$", "U1D", None])
def test_unknown_currency_is_refused(code):
    with pytest.raises(CurrencyError, match="currency code"):
        validate_currency(code)


def test_money_refuses_unknown_currency():
    with pytest.raises(CurrencyError, match="'ABC' is not a known ISO 4217 currency code"):
        Money(Decimal("1"), "ABC")


# --- Rounding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.345", "USD", "2.35"),
        ("2.344", "USD", "2.34"),
        ("-2.345", "USD", "-2.35"),  # half-up rounds away from zero
        ("-2.344", "USD", "-2.34"),
        ("2.3449999999", "USD", "2.34"),
        ("0.005", "USD", "0.01"),
        ("2", "USD", "2.00"),
        ("2.5", "JPY", "3"),
        ("-2.5", "JPY", "-3"),
        ("1.2345", "KWD", "1.235"),
    ],
)
def test_round_amount_defaults_to_half_up(amount, currency, expected):
    result = round_amount(Decimal(amount), currency)
    assert result == Decimal(expected)
    assert str(result) == expected  # quantized to the minor unit, not just equal


@pytest.mark.parametrize(
    ("name", "amount", "expected"),
    [
        ("half_up", "2.345", "2.35"),
        ("half_even", "2.345", "2.34"),
        ("half_even", "2.355", "2.36"),
        ("up", "2.341", "2.35"),
        ("up", "-2.341", "-2.35"),
        ("down", "2.349", "2.34"),
        ("down", "-2.349", "-2.34"),
        ("ceiling", "-2.349", "-2.34"),
        ("ceiling", "2.341", "2.35"),
        ("floor", "2.349", "2.34"),
        ("floor", "-2.341", "-2.35"),
    ],
)
def test_named_rounding_modes(name, amount, expected):
    assert round_amount(Decimal(amount), "USD", rounding_mode(name)) == Decimal(expected)


def test_rounding_mode_none_is_half_up():
    assert rounding_mode(None) == DEFAULT_ROUNDING == decimal.ROUND_HALF_UP


def test_unknown_rounding_mode_is_refused():
    with pytest.raises(ValueError, match="unknown rounding mode 'bankers'"):
        rounding_mode("bankers")


@given(
    amount=st.decimals(min_value=-(10**12), max_value=10**12, places=12),
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_rounding_moves_at_most_half_a_minor_unit(amount, currency):
    rounded = round_amount(amount, currency)
    assert abs(rounded - amount) <= minor_unit(currency) / 2
    assert rounded == rounded.quantize(minor_unit(currency))


# --- Conversion -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.10", "1.10"), (" 2.5 ", "2.5"), (7, "7"), (Decimal("0.000002"), "0.000002"), ("-3", "-3")],
)
def test_to_decimal_accepts_strings_ints_and_decimals(value, expected):
    result = to_decimal(value)
    assert isinstance(result, Decimal)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.1, "not floats"),
        (1.0, "not floats"),
        (True, "not floats"),
        ("abc", "not a decimal number"),
        ("", "not a decimal number"),
        (None, "not a decimal number"),
        ("NaN", "not a finite number"),
        ("Infinity", "not a finite number"),
        (Decimal("-Infinity"), "not a finite number"),
    ],
)
def test_to_decimal_refuses_non_money(value, message):
    with pytest.raises(MoneyValueError, match=message):
        to_decimal(value)


def test_money_refuses_floats():
    with pytest.raises(MoneyValueError, match="not floats"):
        Money(0.1, "USD")


# --- Rates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("0.000002", "0.000002000000"),
        ("0.000000000001", "0.000000000001"),
        ("1.5000000000000", "1.500000000000"),  # 13 places, but the last is a zero
        ("12", "12.000000000000"),
    ],
)
def test_quantize_rate_accepts_up_to_12_places(rate, expected):
    result = quantize_rate(Decimal(rate))
    assert result == Decimal(rate)
    assert format(result, "f") == expected


@pytest.mark.parametrize("rate", ["0.0000000000001", "0.1234567890123", "-1.0000000000005"])
def test_quantize_rate_refuses_more_than_12_places(rate):
    with pytest.raises(MoneyValueError, match="more than 12 decimal places"):
        quantize_rate(Decimal(rate))


def test_multiply_is_exact_beyond_28_digits():
    # A 12-place rate times a 29-digit quantity has 35 significant digits; the default
    # context (28 digits) would silently drop the last seven.
    rate, quantity = Decimal("0.000002000001"), Decimal("12345678901234567890.123456789")
    assert multiply(rate, quantity) == Decimal("24691370148148.037014814803701456789")
    assert rate * quantity != multiply(rate, quantity)


# --- Money ----------------------------------------------------------------------------


def test_money_normalizes_its_fields():
    money = Money("1.50", "usd")
    assert money.amount == Decimal("1.50")
    assert money.currency == "USD"
    assert str(money) == "1.50 USD"


def test_money_adds_and_subtracts_one_currency():
    a, b = Money(Decimal("10.25"), "EUR"), Money(Decimal("0.75"), "EUR")
    assert a + b == Money(Decimal("11.00"), "EUR")
    assert a - b == Money(Decimal("9.50"), "EUR")
    assert -a == Money(Decimal("-10.25"), "EUR")


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b])
def test_money_refuses_to_combine_two_currencies(op):
    with pytest.raises(CurrencyError, match="cannot combine USD with EUR"):
        op(Money(Decimal("1"), "USD"), Money(Decimal("1"), "EUR"))


def test_money_refuses_to_add_a_bare_number():
    with pytest.raises(TypeError, match="cannot combine Money with Decimal"):
        Money(Decimal("1"), "USD") + Decimal("1")


def test_money_arithmetic_keeps_unrounded_digits():
    # An unrounded prorated amount (100 * 1/3) has 50 digits; adding zero must not change it.
    digits = "33.333333333333333333333333333333333333333333333333"
    third = Money(Decimal(digits), "USD")
    assert (third + Money.zero("USD")).amount == Decimal(digits)
    assert (third - Money.zero("USD")).amount == Decimal(digits)
    assert (-third).amount == Decimal("-" + digits)
    assert sum_money([third, third, third], "USD").rounded() == Money(Decimal("100.00"), "USD")


@pytest.mark.parametrize(
    ("amount", "currency", "rounding", "expected"),
    [
        ("2.345", "USD", DEFAULT_ROUNDING, "2.35"),
        ("2.345", "USD", decimal.ROUND_DOWN, "2.34"),
        ("1234.5", "JPY", DEFAULT_ROUNDING, "1235"),
    ],
)
def test_money_rounded(amount, currency, rounding, expected):
    assert Money(Decimal(amount), currency).rounded(rounding) == Money(Decimal(expected), currency)


# --- Sums -----------------------------------------------------------------------------


def test_sum_money():
    items = [Money(Decimal("1.10"), "USD"), Money(Decimal("2.20"), "USD"), Money(Decimal("-0.30"), "USD")]
    assert sum_money(items, "USD") == Money(Decimal("3.00"), "USD")
    assert sum_money(tuple(items), "usd") == Money(Decimal("3.00"), "USD")


def test_sum_money_of_nothing_is_zero_in_the_currency():
    total = sum_money([], "JPY")
    assert total == Money(Decimal("0"), "JPY")
    assert total.currency == "JPY"


@pytest.mark.parametrize(
    ("items", "currency"),
    [
        ([Money(Decimal("1"), "USD"), Money(Decimal("1"), "EUR")], "USD"),
        ([Money(Decimal("1"), "EUR")], "USD"),  # the items must be in the currency asked for
    ],
)
def test_sum_money_refuses_mixed_currencies(items, currency):
    with pytest.raises(CurrencyError, match="cannot combine"):
        sum_money(items, currency)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("10.000000000000"), "10"),
        (Decimal("0.000002000000"), "0.000002"),
        (Decimal("0E-12"), "0"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-2.50"), "-2.5"),
        (None, ""),
    ],
)
def test_plain_writes_decimals_as_people_do(value, text):
    from revops.money import plain

    assert plain(value) == text
