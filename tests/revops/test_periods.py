from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revops.money import round_amount
from revops.periods import (
    Cadence,
    Period,
    period_bounds_utc,
    period_containing,
    period_start_n,
    periods_between,
    prorate,
    proration_fraction,
)

D = date


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- Cadence and Period ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cadence", "months"),
    [(Cadence.MONTHLY, 1), (Cadence.QUARTERLY, 3), (Cadence.ANNUAL, 12)],
)
def test_cadence_months(cadence, months):
    assert cadence.months == months


def test_cadence_is_its_string_value():
    assert Cadence("quarterly") is Cadence.QUARTERLY
    assert Cadence.ANNUAL == "annual"


def test_unknown_cadence_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown cadence 'weekly'; use one of monthly, quarterly, annual"):
        period_start_n(D(2024, 1, 1), "weekly", 1)


def test_period_days_and_half_open_contains():
    period = Period(D(2024, 2, 1), D(2024, 3, 1))
    assert period.days == 29
    assert period.contains(D(2024, 2, 1))
    assert period.contains(D(2024, 2, 29))
    assert not period.contains(D(2024, 3, 1))
    assert not period.contains(D(2024, 1, 31))


@pytest.mark.parametrize(("start", "end"), [(D(2024, 3, 1), D(2024, 3, 1)), (D(2024, 3, 2), D(2024, 3, 1))])
def test_period_refuses_start_not_before_end(start, end):
    with pytest.raises(ValueError, match="must be before its end"):
        Period(start, end)


def test_period_refuses_datetimes():
    with pytest.raises(TypeError, match="start must be a date, not datetime"):
        Period(datetime(2024, 1, 1), D(2024, 2, 1))


# --- Boundaries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "cadence", "n", "expected"),
    [
        # The 31st clamps in short months and returns to the 31st afterwards.
        (D(2023, 1, 31), "monthly", 1, D(2023, 2, 28)),
        (D(2024, 1, 31), "monthly", 1, D(2024, 2, 29)),  # 2024 is a leap year
        (D(2024, 1, 31), "monthly", 2, D(2024, 3, 31)),
        (D(2024, 1, 31), "monthly", 3, D(2024, 4, 30)),
        (D(2024, 1, 31), "monthly", 4, D(2024, 5, 31)),
        (D(2024, 1, 31), "monthly", 11, D(2024, 12, 31)),
        (D(2024, 1, 31), "monthly", 13, D(2025, 2, 28)),
        (D(2100, 1, 31), "monthly", 1, D(2100, 2, 28)),  # divisible by 100: not leap
        (D(2000, 1, 31), "monthly", 1, D(2000, 2, 29)),  # divisible by 400: leap
        # Anchors on the 29th and 30th.
        (D(2023, 1, 29), "monthly", 1, D(2023, 2, 28)),
        (D(2023, 1, 29), "monthly", 2, D(2023, 3, 29)),
        (D(2024, 1, 29), "monthly", 1, D(2024, 2, 29)),
        (D(2023, 1, 30), "monthly", 1, D(2023, 2, 28)),
        (D(2023, 1, 30), "monthly", 2, D(2023, 3, 30)),
        (D(2023, 3, 31), "monthly", 1, D(2023, 4, 30)),
        # Quarterly and annual.
        (D(2023, 11, 30), "quarterly", 1, D(2024, 2, 29)),
        (D(2023, 11, 30), "quarterly", 2, D(2024, 5, 30)),
        (D(2024, 1, 31), "quarterly", 1, D(2024, 4, 30)),
        (D(2024, 1, 31), "quarterly", 2, D(2024, 7, 31)),
        (D(2024, 2, 29), "annual", 1, D(2025, 2, 28)),
        (D(2024, 2, 29), "annual", 4, D(2028, 2, 29)),
        (D(2024, 2, 29), "quarterly", 4, D(2025, 2, 28)),
        (D(2024, 2, 29), Cadence.QUARTERLY, 1, D(2024, 5, 29)),
        # n = 0 is the anchor; negative n goes back, clamping the same way.
        (D(2024, 1, 31), "monthly", 0, D(2024, 1, 31)),
        (D(2024, 3, 31), "monthly", -1, D(2024, 2, 29)),
        (D(2024, 3, 31), "monthly", -2, D(2024, 1, 31)),
        (D(2024, 1, 15), "monthly", -1, D(2023, 12, 15)),
        (D(2024, 2, 29), "annual", -1, D(2023, 2, 28)),
        (D(2024, 5, 31), "quarterly", -1, D(2024, 2, 29)),
    ],
)
def test_period_start_n(anchor, cadence, n, expected):
    assert period_start_n(anchor, cadence, n) == expected


def test_period_start_n_outside_supported_years():
    with pytest.raises(ValueError, match="outside the supported years"):
        period_start_n(D(9999, 12, 1), "monthly", 1)


@pytest.mark.parametrize(
    ("anchor", "cadence", "day", "expected"),
    [
        (D(2024, 1, 31), "monthly", D(2024, 1, 31), Period(D(2024, 1, 31), D(2024, 2, 29))),
        (D(2024, 1, 31), "monthly", D(2024, 2, 28), Period(D(2024, 1, 31), D(2024, 2, 29))),
        (D(2024, 1, 31), "monthly", D(2024, 2, 29), Period(D(2024, 2, 29), D(2024, 3, 31))),
        (D(2024, 1, 31), "monthly", D(2024, 3, 30), Period(D(2024, 2, 29), D(2024, 3, 31))),
        (D(2024, 1, 31), "monthly", D(2024, 3, 31), Period(D(2024, 3, 31), D(2024, 4, 30))),
        (D(2024, 1, 15), "monthly", D(2024, 6, 14), Period(D(2024, 5, 15), D(2024, 6, 15))),
        (D(2024, 1, 15), "monthly", D(2024, 6, 15), Period(D(2024, 6, 15), D(2024, 7, 15))),
        # Days before the anchor fall in the periods before it.
        (D(2024, 1, 31), "monthly", D(2024, 1, 30), Period(D(2023, 12, 31), D(2024, 1, 31))),
        (D(2024, 1, 31), "monthly", D(2023, 12, 30), Period(D(2023, 11, 30), D(2023, 12, 31))),
        (D(2024, 3, 10), "quarterly", D(2024, 1, 1), Period(D(2023, 12, 10), D(2024, 3, 10))),
        (D(2024, 2, 29), "annual", D(2025, 2, 27), Period(D(2024, 2, 29), D(2025, 2, 28))),
        (D(2024, 2, 29), "annual", D(2025, 3, 1), Period(D(2025, 2, 28), D(2026, 2, 28))),
        (D(2024, 2, 29), "annual", D(2023, 6, 1), Period(D(2023, 2, 28), D(2024, 2, 29))),
    ],
)
def test_period_containing(anchor, cadence, day, expected):
    assert period_containing(anchor, cadence, day) == expected


def test_periods_between_returns_whole_periods_intersecting_the_range():
    assert periods_between(D(2024, 1, 31), "monthly", D(2024, 2, 10), D(2024, 4, 30)) == [
        Period(D(2024, 1, 31), D(2024, 2, 29)),
        Period(D(2024, 2, 29), D(2024, 3, 31)),
        Period(D(2024, 3, 31), D(2024, 4, 30)),
    ]


def test_periods_between_excludes_the_period_starting_at_end():
    # [start, end) is half-open: the period that begins on `end` does not intersect it.
    assert periods_between(D(2024, 1, 1), "quarterly", D(2024, 1, 1), D(2024, 7, 1)) == [
        Period(D(2024, 1, 1), D(2024, 4, 1)),
        Period(D(2024, 4, 1), D(2024, 7, 1)),
    ]


def test_periods_between_before_the_anchor():
    assert periods_between(D(2024, 1, 1), "annual", D(2021, 6, 1), D(2022, 1, 2)) == [
        Period(D(2021, 1, 1), D(2022, 1, 1)),
        Period(D(2022, 1, 1), D(2023, 1, 1)),
    ]


def test_periods_between_refuses_an_empty_range():
    with pytest.raises(ValueError, match="start 2024-02-01 must be before end 2024-02-01"):
        periods_between(D(2024, 1, 1), "monthly", D(2024, 2, 1), D(2024, 2, 1))


# --- Properties -----------------------------------------------------------------------

anchors = st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31))
cadences = st.sampled_from(list(Cadence))
indexes = st.integers(min_value=-200, max_value=200)


@given(anchor=anchors, cadence=cadences, n=indexes)
def test_consecutive_periods_have_no_gap_and_no_overlap(anchor, cadence, n):
    this = period_containing(anchor, cadence, period_start_n(anchor, cadence, n))
    following = period_containing(anchor, cadence, this.end)
    assert this.start == period_start_n(anchor, cadence, n)
    assert this.end == following.start == period_start_n(anchor, cadence, n + 1)
    assert this.start < this.end < following.end


@given(anchor=anchors, cadence=cadences, n=indexes)
def test_boundaries_return_to_the_anchor_day(anchor, cadence, n):
    boundary = period_start_n(anchor, cadence, n)
    assert boundary.day == anchor.day or (boundary.day < anchor.day and (boundary + timedelta(1)).day == 1)


@given(anchor=anchors, cadence=cadences, day=anchors)
def test_period_containing_contains_the_day(anchor, cadence, day):
    period = period_containing(anchor, cadence, day)
    assert period.contains(day)
    assert period.days >= 28


@given(anchor=anchors, cadence=cadences, start=anchors, length=st.integers(min_value=1, max_value=800))
def test_periods_between_tile_the_range(anchor, cadence, start, length):
    end = start + timedelta(days=length)
    periods = periods_between(anchor, cadence, start, end)
    assert periods[0].contains(start)
    assert periods[-1].contains(end - timedelta(days=1))
    assert all(a.end == b.start for a, b in pairwise(periods))


# --- Time zones -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "tz", "expected"),
    [
        (Period(D(2024, 1, 1), D(2024, 2, 1)), "UTC", (utc(2024, 1, 1), utc(2024, 2, 1))),
        # New York moves to daylight time on 10 March 2024 (UTC-5 -> UTC-4)...
        (Period(D(2024, 3, 1), D(2024, 4, 1)), "America/New_York", (utc(2024, 3, 1, 5), utc(2024, 4, 1, 4))),
        # ... and back on 3 November 2024.
        (
            Period(D(2024, 10, 15), D(2024, 11, 15)),
            "America/New_York",
            (utc(2024, 10, 15, 4), utc(2024, 11, 15, 5)),
        ),
        (
            Period(D(2024, 1, 1), D(2024, 1, 2)),
            "Asia/Kolkata",
            (utc(2023, 12, 31, 18, 30), utc(2024, 1, 1, 18, 30)),
        ),
        # Santiago skips midnight on 11 September 2022 (00:00 -> 01:00): the day begins at 01:00 local.
        (
            Period(D(2022, 9, 11), D(2022, 9, 12)),
            "America/Santiago",
            (utc(2022, 9, 11, 4), utc(2022, 9, 12, 3)),
        ),
    ],
)
def test_period_bounds_utc(period, tz, expected):
    bounds = period_bounds_utc(period, tz)
    assert bounds == expected
    assert all(b.tzinfo is UTC for b in bounds)


def test_period_bounds_utc_days_are_not_all_24_hours():
    start_at, end_at = period_bounds_utc(Period(D(2024, 3, 10), D(2024, 3, 11)), "America/New_York")
    assert end_at - start_at == timedelta(hours=23)


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "../etc/passwd", ""])
def test_period_bounds_utc_refuses_unknown_zones(tz):
    with pytest.raises(ValueError, match="unknown time zone"):
        period_bounds_utc(Period(D(2024, 1, 1), D(2024, 2, 1)), tz)


# --- Proration ------------------------------------------------------------------------

JUNE = Period(D(2024, 6, 1), D(2024, 7, 1))  # 30 days
FEB_LEAP = Period(D(2024, 2, 1), D(2024, 3, 1))  # 29 days


@pytest.mark.parametrize(
    ("amount", "period", "start", "end", "expected"),
    [
        (Decimal("100.00"), JUNE, D(2024, 6, 1), D(2024, 7, 1), Decimal("100.00")),  # whole period, exactly
        (Decimal("100.00"), JUNE, D(2024, 6, 1), None, Decimal("100.00")),
        (Decimal("100"), JUNE, D(2024, 6, 16), None, Decimal("50")),  # 15 of 30 days
        (Decimal("100"), JUNE, D(2024, 6, 1), D(2024, 6, 16), Decimal("50")),
        (Decimal("30"), JUNE, D(2024, 6, 10), D(2024, 6, 11), Decimal("1")),  # one day
        (Decimal("29"), FEB_LEAP, D(2024, 2, 29), None, Decimal("1")),  # February 2024 has 29 days
        (Decimal("-60"), JUNE, D(2024, 6, 21), None, Decimal("-20")),  # credits prorate too
        # Partly outside: clipped to the period.
        (Decimal("100"), JUNE, D(2024, 5, 1), D(2024, 6, 16), Decimal("50")),
        (Decimal("100"), JUNE, D(2024, 6, 16), D(2024, 12, 1), Decimal("50")),
        (Decimal("100"), JUNE, D(2024, 1, 1), None, Decimal("100")),
        # Fully outside: nothing.
        (Decimal("100"), JUNE, D(2024, 7, 1), None, Decimal("0")),
        (Decimal("100"), JUNE, D(2024, 5, 1), D(2024, 6, 1), Decimal("0")),
    ],
)
def test_prorate(amount, period, start, end, expected):
    assert prorate(amount, period, start, end) == expected


def test_prorate_is_unrounded():
    assert prorate(Decimal("100"), JUNE, D(2024, 6, 21)) == Decimal(
        "33.333333333333333333333333333333333333333333333333"
    )


def test_prorate_keeps_an_exact_tie_exact():
    # 1.190 * 2/28 is exactly 0.085, which rounds half-up to 0.09. Multiplying by a rounded
    # 2/28 instead would give 0.08499...9 and an invoice line one cent short.
    feb = Period(D(2023, 2, 1), D(2023, 3, 1))
    amount = prorate(Decimal("1.190"), feb, D(2023, 2, 1), D(2023, 2, 3))
    assert amount == Decimal("0.085")
    assert round_amount(amount, "USD") == Decimal("0.09")


@pytest.mark.parametrize(
    ("period", "start", "end", "expected"),
    [
        (JUNE, D(2024, 6, 16), None, Decimal("0.5")),
        (JUNE, D(2024, 6, 1), None, Decimal("1")),
        # 1/29 to the module's 50 significant digits.
        (
            FEB_LEAP,
            D(2024, 2, 1),
            D(2024, 2, 2),
            Decimal("0.034482758620689655172413793103448275862068965517241"),
        ),
        (JUNE, D(2024, 8, 1), None, Decimal("0")),
    ],
)
def test_proration_fraction(period, start, end, expected):
    assert proration_fraction(period, start, end) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [(D(2024, 6, 10), D(2024, 6, 10)), (D(2024, 6, 20), D(2024, 6, 10))],
)
def test_proration_refuses_dates_out_of_order(start, end):
    with pytest.raises(ValueError, match="must be before its end"):
        prorate(Decimal("100"), JUNE, start, end)
    with pytest.raises(ValueError, match="must be before its end"):
        proration_fraction(JUNE, start, end)


def test_prorate_refuses_floats():
    with pytest.raises(TypeError, match="amount must be a Decimal, not float"):
        prorate(100.0, JUNE, D(2024, 6, 1))


@given(amount=st.decimals(min_value=-(10**9), max_value=10**9, places=3), cut_day=st.integers(1, 29))
def test_prorate_splits_add_up_to_the_whole(amount, cut_day):
    # Cutting a period at any day splits the amount into parts that sum back exactly
    # (terminating parts) or to within the context's precision (repeating ones).
    cut = JUNE.start + timedelta(days=cut_day)
    whole = prorate(amount, JUNE, JUNE.start, cut) + prorate(amount, JUNE, cut)
    assert abs(whole - amount) < Decimal("1e-30")
