"""Properties of splitting a line over months (no database): a schedule always sums exactly to its line, and
after any credit notes and a void a line recognizes exactly what it still bills."""

import datetime as dt
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from billing.revenue.recognition import LineRevenue, _settle
from billing.revenue.split import months_between, split_by_day
from revops.money import minor_unit

CURRENCIES = st.sampled_from(["USD", "JPY", "BHD", "EUR"])
DAYS = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31))


@st.composite
def lines(draw):
    currency = draw(CURRENCIES)
    places = -minor_unit(currency).as_tuple().exponent
    units = draw(st.integers(min_value=-(10**9), max_value=10**9))
    start = draw(DAYS)
    length = draw(st.integers(min_value=0, max_value=800))
    return D(units).scaleb(-places), start, start + dt.timedelta(days=length), currency


@given(lines())
def test_a_schedule_sums_to_its_line_in_the_months_it_touches(line):
    amount, start, end, currency = line
    shares = split_by_day(amount, start, end, currency)
    assert sum(share for _, share in shares) == amount
    last_day = end - dt.timedelta(days=1) if end > start else start
    assert [month for month, _ in shares] == months_between(start, last_day)
    unit = minor_unit(currency)
    days = max((end - start).days, 1)
    for month, share in shares[:-1]:
        assert share == share.quantize(unit)
        nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        exact = amount * ((min(nxt, end) - max(month, start)).days) / days
        assert abs(share - exact) <= unit / 2


@given(
    lines(),
    st.lists(st.tuples(st.integers(min_value=0, max_value=30), st.integers(min_value=1, max_value=40)), max_size=3),
    st.one_of(st.none(), st.integers(min_value=0, max_value=30)),
)
def test_credits_and_a_void_leave_a_line_recognizing_what_it_still_bills(line, notes, void_after):
    amount, start, end, currency = line
    if amount <= 0:
        amount = -amount + minor_unit(currency) * 1000  # credit notes only credit charges
    shares = split_by_day(amount, start, end, currency)
    figures = LineRevenue(0, 0, currency, "p", "subscription", billed=[(shares[0][0], amount)], recognized=shares)
    credits, left, month = [], amount, start.replace(day=1)
    for months_later, percent in sorted(notes):
        credited = (left * percent / 100).quantize(minor_unit(currency))
        if credited <= 0:
            continue
        when = months_between(month, month + dt.timedelta(days=31 * months_later))[-1]
        credits.append((when, credited))
        left -= credited
        month = when
    voided = None
    if void_after is not None:
        voided = months_between(month, month + dt.timedelta(days=31 * void_after))[-1]
    _settle(figures, amount, credits, voided)
    billed = sum(a for _, a in figures.billed) + sum(a for _, a in figures.reversed)
    assert sum(a for _, a in figures.recognized) == billed
    assert billed == (0 if voided else amount - sum(c for _, c in credits))
    unit = minor_unit(currency)
    assert all(a == a.quantize(unit) for _, a in figures.recognized)
