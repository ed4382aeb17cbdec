"""Splitting an amount over calendar months, ratably by day. Pure: no database, no Django.

Each month's share is rounded once to the currency's minor unit; the rounding remainder goes on the
last month, so a schedule always sums exactly to the amount it splits.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from revops.money import ZERO, round_amount


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first days of the months from `first`'s to `last`'s, both included."""
    months, month = [], month_of(first)
    while month <= month_of(last):
        months.append(month)
        month = next_month(month)
    return months


def split_by_day(amount: Decimal, start: dt.date, end: dt.date, currency: str) -> list[tuple[dt.date, Decimal]]:
    """`amount` over the service period [start, end), one (month, share) per calendar month it touches.

    A period of no days (end <= start) is recognized whole in `start`'s month.
    """
    days = (end - start).days
    if days <= 0:
        return [(month_of(start), amount)]
    shares: list[tuple[dt.date, Decimal]] = []
    taken = ZERO
    month = month_of(start)
    while month < end:
        upto = min(next_month(month), end)
        overlap = (upto - max(month, start)).days
        shares.append((month, round_amount(amount * overlap / days, currency)))
        taken += shares[-1][1]
        month = next_month(month)
    last_month, last_share = shares[-1]
    shares[-1] = (last_month, last_share + amount - taken)
    return shares


def cuts_of(entries: list[tuple[dt.date, Decimal]], by: Decimal, of: Decimal, currency: str) -> list[Decimal]:
    """What each entry loses, rounded to the minor unit, when `by` of a line's remaining `of` is taken away
    (a credit note). The caller puts what the rounded cuts leave of `by` in the credit note's month."""
    return [round_amount(value * by / of, currency) for _, value in entries]
