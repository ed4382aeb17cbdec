"""The demo's simulated customer: half a year of billing produced by advancing its test clock."""

import datetime as dt

import pytest

from billing.models import Invoice
from contracts.models import EntryKind, LedgerEntry, TestClock
from demo.catalog import load_catalog
from demo.clock import EXTERNAL_ID, load_clock_demo

pytestmark = pytest.mark.django_db


def test_the_demo_clock_bills_six_months_and_loads_once():
    load_catalog(actor=None, as_of=dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    clock = load_clock_demo(actor=None)
    assert (clock.status, clock.frozen_time) == ("ready", dt.datetime(2027, 2, 4, 1, 0, tzinfo=dt.UTC))
    invoices = list(Invoice.objects.filter(customer__external_id=EXTERNAL_ID).order_by("period_start"))
    assert [(str(i.period_start), i.status) for i in invoices] == [
        (f"{year}-{month:02d}-01", "finalized") for year, month in [(2026, 8), (2026, 9), (2026, 10), (2026, 11),
                                                                    (2026, 12), (2027, 1)]
    ]  # fmt: skip
    assert all(i.number.startswith("TEST-INV-") for i in invoices)
    assert invoices[0].lines.filter(kind="commit_purchase").get().amount == 3000
    # The first-quarter commitment paid usage and fees until October, then what was left expired (if any).
    assert LedgerEntry.objects.filter(balance__contract__customer__external_id=EXTERNAL_ID, kind=EntryKind.DRAWDOWN)
    assert load_clock_demo(actor=None) is None  # a second load adds nothing
    assert (TestClock.objects.count(), Invoice.objects.count()) == (1, 6)
