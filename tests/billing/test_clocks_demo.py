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
    invoices = list(Invoice.objects.filter(customer__external_id=EXTERNAL_ID).order_by("period_start", "kind"))
    # The opening invoice (August's fees in advance), then August to January closed.
    assert [(i.kind, str(i.period_start), i.status) for i in invoices] == [("opening", "2026-08-01", "finalized")] + [
        ("period", f"{year}-{month:02d}-01", "finalized") for year, month in [(2026, 8), (2026, 9), (2026, 10),
                                                                              (2026, 11), (2026, 12), (2027, 1)]
    ]  # fmt: skip
    assert all(i.number.startswith("TEST-INV-") for i in invoices)
    # The commitment starts with the contract: bought on the opening invoice.
    assert invoices[0].lines.filter(kind="commit_purchase").get().amount == 3000
    # The first-quarter commitment paid August's fees on the opening invoice (12 seats x 40 + the 500 platform
    # fee = 980.00), then the 2,020.00 left went to August's invoice (August's usage, at least the 900.00 GPU
    # minimum, and September's 980.00 of fees in advance: more than what was left).
    drawn = LedgerEntry.objects.filter(
        balance__contract__customer__external_id=EXTERNAL_ID, kind=EntryKind.DRAWDOWN
    ).order_by("pk")
    assert [(e.reference, e.amount) for e in drawn] == [
        (f"invoice {invoices[0].pk}", -980),
        (f"invoice {invoices[1].pk}", -2020),
    ]
    assert load_clock_demo(actor=None) is None  # a second load adds nothing
    assert (TestClock.objects.count(), Invoice.objects.count()) == (1, 7)
