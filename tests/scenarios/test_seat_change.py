"""A mid-period seat change: 10 seats, 16 from the 16th of January. Seats are billed in advance: January's 10
on the opening invoice, then January's invoice bills January as it turned out (prorated by day) less what was
billed in advance, and February's 16 seats ahead."""

import pytest

from tests.scenarios.support import lines, summary

pytestmark = pytest.mark.django_db


def test_a_seat_change_mid_period_is_prorated_by_day(api):
    api.catalog(
        metrics=[],
        products=[
            {"code": "seat", "name": "Seat", "kind": "subscription", "unit_label": "seat"},
            {"code": "platform", "name": "Platform fee", "kind": "recurring_fee"},
        ],
        card="team",
        currency="USD",
        prices=[
            {"product": "seat", "model": "per_unit", "unit_price": "30"},
            {"product": "platform", "model": "flat", "flat_amount": "100"},
        ],
        effective_from="2027-01-01",
    )
    clock = api.clock("seats", "2027-01-01T00:00:00Z")
    api.customer("globex", clock=clock)
    contract = api.contract(
        customer="globex",
        rate_card="team",
        start_date="2027-01-01",
        subscriptions=[{"product": "seat", "quantity": "10"}, {"product": "platform", "quantity": "1"}],
    )
    api.advance(clock, "2027-01-16T09:00:00Z")
    api.post(
        f"/contracts/{contract}/subscriptions",
        {"product": "seat", "quantity": "16", "effective_date": "2027-01-16", "reason": "team grew"},
        201,
    )
    api.advance(clock, "2027-03-04T00:00:00Z")
    opening, january, february = api.invoices("globex")  # March has not ended on the clock: no invoice for it

    # Opening: January billed in advance as signed: 10 x 30 = 300.00, platform 100.00; total 400.00. It is the
    # first simulated invoice: numbered first in a series of its own (simulated invoices never take numbers of
    # the real, gapless series).
    assert lines(opening) == [("subscription", "seat", "300.00"), ("subscription", "platform", "100.00")]
    assert [line["description"] for line in opening["lines"]] == [
        "Seat: 10 x 2027-01-01 to 2027-02-01",
        "Platform fee: 1 x 2027-01-01 to 2027-02-01",
    ]
    assert (opening["kind"], opening["number"]) == ("opening", "TEST-INV-2027-000001")
    assert summary(opening) == ("2027-01-01", "2027-02-01", "finalized", "400.00")

    # January: seats as they turned out, 10 for 15 of 31 days and 16 for 16 of 31 days, each line rounded once:
    # 10 x 30 x 15/31 = 145.1613 -> 145.16; 16 x 30 x 16/31 = 247.7419 -> 247.74; less the 300.00 billed in
    # advance: 92.90 more. The platform fee did not change (100.00 billed, 100.00 due): no line for it.
    # Then February in advance: 16 x 30 = 480.00, platform 100.00.
    assert lines(january) == [
        ("subscription", "seat", "145.16"),
        ("subscription", "seat", "247.74"),
        ("billed_in_advance", "seat", "-300.00"),
        ("subscription", "seat", "480.00"),
        ("subscription", "platform", "100.00"),
    ]
    assert [line["description"] for line in january["lines"]] == [
        "Seat: 10 x 2027-01-01 to 2027-01-16 (prorated 15/31 days)",
        "Seat: 16 x 2027-01-16 to 2027-02-01 (prorated 16/31 days)",
        f"Seat: 2027-01-01 to 2027-02-01 billed in advance on invoice {opening['number']}",
        "Seat: 16 x 2027-02-01 to 2027-03-01",
        "Platform fee: 1 x 2027-02-01 to 2027-03-01",
    ]
    # 145.16 + 247.74 - 300.00 + 480.00 + 100.00 = 672.90; finalized when the 72-hour grace ended, on the
    # clock's time, and numbered next in the simulated series.
    assert summary(january) == ("2027-01-01", "2027-02-01", "finalized", "672.90")
    assert (january["number"], january["finalized_at"]) == ("TEST-INV-2027-000002", "2027-02-04T00:00:00Z")
    # February: nothing changed since it was billed in advance (480.00 + 100.00): no line for it; March in
    # advance: 16 x 30 = 480.00, platform 100.00; total 580.00.
    assert lines(february) == [("subscription", "seat", "480.00"), ("subscription", "platform", "100.00")]
    assert [line["description"] for line in february["lines"]] == [
        "Seat: 16 x 2027-03-01 to 2027-04-01",
        "Platform fee: 1 x 2027-03-01 to 2027-04-01",
    ]
    assert summary(february) == ("2027-02-01", "2027-03-01", "finalized", "580.00")
    assert february["finalized_at"] == "2027-03-04T00:00:00Z"

    # The upcoming invoice is March's, as the customer lives on 4 March 2027: March was billed in advance and
    # has not changed, so it bills April ahead: 480.00 + 100.00 = 580.00.
    upcoming = api.get(f"/contracts/{contract}/upcoming-invoice")
    assert (upcoming["period_start"], upcoming["period_end"]) == ("2027-03-01", "2027-04-01")
    assert lines(upcoming) == [("subscription", "seat", "480.00"), ("subscription", "platform", "100.00")]
    assert [line["description"] for line in upcoming["lines"]] == [
        "Seat: 16 x 2027-04-01 to 2027-05-01",
        "Platform fee: 1 x 2027-04-01 to 2027-05-01",
    ]
    assert upcoming["total"] == "580.00"
