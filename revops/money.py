"""Money helpers: Decimal only, currency precision from Babel, one named rounding mode.

Rules (see DESIGN.md): unit prices keep up to 12 decimal places; an amount on an
invoice line is rounded once, to the currency's minor unit, half-up unless the
caller names another mode; totals are sums of rounded lines; amounts of different
currencies are never added. This module is pure: no Django imports.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from babel.numbers import get_currency_precision, list_currencies

# The project's rounding mode for invoice amounts. Named once so every caller
# rounds the same way; a price may name another mode (e.g. ROUND_DOWN) explicitly.
ROUND_HALF_UP = decimal.ROUND_HALF_UP
DEFAULT_ROUNDING = ROUND_HALF_UP
ROUNDING_MODES = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "up": decimal.ROUND_UP,
    "down": decimal.ROUND_DOWN,
    "ceiling": decimal.ROUND_CEILING,
    "floor": decimal.ROUND_FLOOR,
}

RATE_DECIMAL_PLACES = 12  # unit prices: a token can cost 0.000002
AMOUNT_DECIMAL_PLACES = 3  # stored amounts before/after line rounding
RATE_QUANTUM = Decimal(1).scaleb(-RATE_DECIMAL_PLACES)
ZERO = Decimal("0")

# Enough precision for 12-decimal rates times quantities in the billions.
_CONTEXT = decimal.Context(prec=50, rounding=DEFAULT_ROUNDING)


class CurrencyError(ValueError):
    """An unknown currency code, or two currencies mixed in one sum."""


class MoneyValueError(ValueError):
    """A value that cannot be money: a float, a non-number, NaN or infinity."""


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def validate_currency(code: str) -> str:
    """Return the ISO 4217 code upper-cased, or raise CurrencyError."""
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha():
        raise CurrencyError(f"{code!r} is not an ISO 4217 currency code")
    upper = code.upper()
    if upper not in _known_currencies():
        raise CurrencyError(f"{code!r} is not a known ISO 4217 currency code")
    return upper


@cache
def minor_unit_exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (USD 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(validate_currency(currency)))


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest unit as a Decimal quantum (USD -> 0.01, JPY -> 1)."""
    return Decimal(1).scaleb(-minor_unit_exponent(currency))


def to_decimal(value: object) -> Decimal:
    """Convert str, int or Decimal to a finite Decimal. Floats are refused: they are not exact."""
    if isinstance(value, (bool, float)):
        raise MoneyValueError(f"{value!r}: money and quantities must be given as strings or integers, not floats")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise MoneyValueError(f"{value!r} is not a decimal number") from None
    else:
        raise MoneyValueError(f"{value!r} is not a decimal number")
    if not result.is_finite():
        raise MoneyValueError(f"{value!r} is not a finite number")
    return result


def plain(value: Decimal | None) -> str:
    """A decimal as people write it: no trailing zeros, never an exponent (10.000000000000 -> '10',
    0.000002000000 -> '0.000002'); None -> ''."""
    if value is None:
        return ""
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1)):f}"
    return f"{value.normalize():f}"


def rounding_mode(name: str | None) -> str:
    """Map a rounding name ('half_up', 'down', ...) to the decimal module's constant."""
    if name is None:
        return DEFAULT_ROUNDING
    try:
        return ROUNDING_MODES[name]
    except KeyError:
        raise ValueError(f"unknown rounding mode {name!r}; use one of {sorted(ROUNDING_MODES)}") from None


def round_amount(amount: Decimal, currency: str, rounding: str = DEFAULT_ROUNDING) -> Decimal:
    """Round an amount once, to the currency's minor unit. The one place line amounts are rounded."""
    return amount.quantize(minor_unit(currency), rounding=rounding, context=_CONTEXT)


def quantize_rate(rate: Decimal) -> Decimal:
    """Check a unit price fits in 12 decimal places; refuse silently losing precision."""
    quantized = rate.quantize(RATE_QUANTUM, context=_CONTEXT)
    if quantized != rate:
        raise MoneyValueError(f"{rate} has more than {RATE_DECIMAL_PLACES} decimal places")
    return quantized


def multiply(a: Decimal, b: Decimal) -> Decimal:
    """Exact product under the project's wide context (no silent 28-digit truncation)."""
    return _CONTEXT.multiply(a, b)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Adding two currencies is an error, never a conversion."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", validate_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(ZERO, currency)

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        # The wide context: the default one silently rounds to 28 digits, and unrounded
        # amounts (a prorated 1/3) have more; rounding happens once, on the invoice line.
        return Money(_CONTEXT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(_CONTEXT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        return Money(_CONTEXT.minus(self.amount), self.currency)

    def rounded(self, rounding: str = DEFAULT_ROUNDING) -> Money:
        return Money(round_amount(self.amount, self.currency, rounding), self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def sum_money(items: list[Money] | tuple[Money, ...], currency: str) -> Money:
    """Sum amounts of one currency; an empty list sums to zero in `currency`."""
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total
