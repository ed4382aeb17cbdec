"""Billing periods: half-open `[start, end)` date ranges cut from a contract's anchor date.

Every boundary is computed from the anchor directly (anchor + n * cadence months),
never from the previous boundary, so an anchor on the 31st clamps to short months
(Feb 28) and comes back to the 31st afterwards. Consecutive periods share a boundary,
so there is no gap and no overlap. `prorate` is the project's one proration rule.
This module is pure: no Django imports, and it never reads the clock.
"""

from __future__ import annotations

import calendar
import decimal
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Proration divides by a period's day count, so results such as 1/3 do not terminate.
# Nothing is quantized here (invoice lines round once, later); this context only has to
# be wide enough that the one division loses nothing a currency could ever see.
_CONTEXT = decimal.Context(prec=50)


class Cadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        return _CADENCE_MONTHS[self]


_CADENCE_MONTHS: dict[Cadence, int] = {Cadence.MONTHLY: 1, Cadence.QUARTERLY: 3, Cadence.ANNUAL: 12}


def _cadence(value: Cadence | str) -> Cadence:
    try:
        return Cadence(value)
    except ValueError:
        choices = ", ".join(c.value for c in Cadence)
        raise ValueError(f"unknown cadence {value!r}; use one of {choices}") from None


def _check_date(value: date, name: str) -> None:
    # datetime is a subclass of date; letting one in would mix instants with calendar days.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Period:
    """A billing period `[start, end)`: `end` is the first day of the next period."""

    start: date
    end: date

    def __post_init__(self) -> None:
        _check_date(self.start, "start")
        _check_date(self.end, "end")
        if self.start >= self.end:
            raise ValueError(f"period start {self.start} must be before its end {self.end}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def contains(self, d: date) -> bool:
        return self.start <= d < self.end


def _add_months(d: date, months: int) -> date:
    """`d` moved by whole months, the day clamped to the target month's last day."""
    years, month_index = divmod(d.month - 1 + months, 12)
    year, month = d.year + years, month_index + 1
    if not 1 <= year <= 9999:
        raise ValueError(f"{d} plus {months} months is outside the supported years 1-9999")
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def period_start_n(anchor: date, cadence: Cadence | str, n: int) -> date:
    """The n-th period boundary after `anchor` (n=0 is the anchor itself; n may be negative)."""
    _check_date(anchor, "anchor")
    return _add_months(anchor, n * _cadence(cadence).months)


def _period_n(anchor: date, cadence: Cadence, n: int) -> Period:
    return Period(period_start_n(anchor, cadence, n), period_start_n(anchor, cadence, n + 1))


def _index_containing(anchor: date, cadence: Cadence, day: date) -> int:
    # Whole months from the anchor's month to day's month, in cadence steps (floor, so this
    # works before the anchor too). Boundary n then lies in a month no later than day's, and
    # boundary n + 1 in a strictly later month, so only boundary n can be past `day`: when
    # both fall in the same month and the anchor's day-of-month is later than day's.
    months = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    n = months // cadence.months
    if period_start_n(anchor, cadence, n) > day:
        n -= 1
    return n


def period_containing(anchor: date, cadence: Cadence | str, day: date) -> Period:
    """The period that contains `day`; days before the anchor get the periods before it."""
    _check_date(day, "day")
    cadence = _cadence(cadence)
    return _period_n(anchor, cadence, _index_containing(anchor, cadence, day))


def periods_between(anchor: date, cadence: Cadence | str, start: date, end: date) -> list[Period]:
    """Whole periods intersecting `[start, end)`, in order; the first and last may stick out."""
    _check_date(start, "start")
    _check_date(end, "end")
    if start >= end:
        raise ValueError(f"start {start} must be before end {end}")
    cadence = _cadence(cadence)
    n = _index_containing(anchor, cadence, start)
    periods = []
    while (period := _period_n(anchor, cadence, n)).start < end:
        periods.append(period)
        n += 1
    return periods


def period_bounds_utc(period: Period, tz: str) -> tuple[datetime, datetime]:
    """The period's start and end as aware UTC datetimes, taking each day to begin at
    midnight in the IANA time zone `tz` (the customer's billing zone)."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Paris'") from None
    # fold=0 gives the first instant of the day even where midnight is skipped or repeated
    # by a DST change (e.g. America/Santiago jumps from 00:00 to 01:00).
    start_at = datetime.combine(period.start, time.min, tzinfo=zone).astimezone(UTC)
    end_at = datetime.combine(period.end, time.min, tzinfo=zone).astimezone(UTC)
    return start_at, end_at


def _days_in(period: Period, start: date, end: date | None) -> int:
    """Days of `[start, end)` inside the period; `end=None` means the range never ends."""
    _check_date(start, "start")
    if end is not None:
        _check_date(end, "end")
        if start >= end:
            raise ValueError(f"proration start {start} must be before its end {end}")
    # Clip to the period: a range partly outside counts only its days inside, one fully
    # outside counts none (max(0, ...) instead of a negative count).
    clipped_start = max(start, period.start)
    clipped_end = period.end if end is None else min(end, period.end)
    return max(0, (clipped_end - clipped_start).days)


def proration_fraction(period: Period, start: date, end: date | None = None) -> Decimal:
    """Share of the period covered by `[start, end)`, by days: 0 to 1, unrounded."""
    return _CONTEXT.divide(Decimal(_days_in(period, start, end)), Decimal(period.days))


def prorate(amount: Decimal, period: Period, start: date, end: date | None = None) -> Decimal:
    """`amount` * days of `[start, end)` in the period / days in the period, unrounded.

    Uses the same day count as `proration_fraction`, but multiplies before dividing:
    amount * (rounded 2/28) can turn an exact half-cent tie (1.190 * 2/28 = 0.085) into
    0.08499...9, which the invoice line would round down; one division keeps the result
    exact whenever it terminates.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    days = Decimal(_days_in(period, start, end))
    return _CONTEXT.divide(_CONTEXT.multiply(amount, days), Decimal(period.days))
