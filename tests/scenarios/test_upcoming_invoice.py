"""The upcoming invoice read just before a period ends is the invoice the period close then makes: same lines,
same amounts, same totals. A Berlin customer with a seat discount, German VAT, a credit and a commitment bought
during the first period (what the opening invoice bills before it is shown too)."""

import pytest

from tests.scenarios.support import event, lines, summary

pytestmark = pytest.mark.django_db


def test_the_upcoming_invoice_at_the_end_of_a_period_is_the_invoice_it_becomes(api):
    api.catalog(
        metrics=[
            {"code": "minutes", "name": "Compute minutes", "event_type": "job.finished", "aggregation": "sum",
             "property": "minutes"},
        ],
        products=[
            {"code": "seat", "name": "Seat", "kind": "subscription", "unit_label": "seat"},
            {"code": "compute", "name": "Compute", "kind": "usage", "metric": "minutes"},
        ],
        card="team",
        currency="EUR",
        prices=[
            {"product": "seat", "model": "per_unit", "unit_price": "30"},
            {"product": "compute", "model": "per_unit", "unit_price": "1.25"},
        ],
        effective_from="2027-01-01",
    )  # fmt: skip
    api.post("/tax-rates", {"name": "VAT", "rate_percent": "19", "region": "DE", "effective_from": "2027-01-01"}, 201)
    clock = api.clock("upcoming", "2027-01-01T00:00:00Z")
    api.customer("initech", clock=clock, currency="EUR", timezone="Europe/Berlin", tax_region="DE")
    contract = api.contract(
        customer="initech",
        rate_card="team",
        start_date="2027-01-01",
        subscriptions=[{"product": "seat", "quantity": "10"}],
        terms={"overrides": [{"kind": "discount", "product": "seat", "discount_percent": "20"}]},
    )
    # The seats are billed in advance: January's on the opening invoice, issued once the contract has started.
    api.advance(clock, "2027-01-10T09:00:00Z")
    # On 10 January the customer buys a commitment and is given a credit, both usable from that day: January's
    # invoice bills the commitment and is paid from both.
    for kind, amount, expires_on in (("credit", "50", "2027-03-01"), ("commit", "500", "2027-04-01")):
        body = {"kind": kind, "amount": amount, "starts_on": "2027-01-10", "expires_on": expires_on}
        api.post(f"/contracts/{contract}/balances", {**body, "name": kind.title(), "reason": "signed"}, 201)
    api.send(event("j1", "initech", "job.finished", "2027-01-10T08:00:00Z", minutes=320))

    # 22:30 UTC on 31 January is 23:30 in Berlin: the last half hour of January there.
    api.advance(clock, "2027-01-31T22:30:00Z")
    upcoming = api.get(f"/contracts/{contract}/upcoming-invoice")
    # Compute 320 x 1.25 = 400.00. January's seats were billed in advance and have not changed: no line for
    # them; February's ahead: 10 x 30 = 300.00, 20% off = -60.00. The commitment bought, 500.00. The credit
    # (soonest expiry) pays 50.00, the commitment 500.00 of the 590.00 left. VAT on
    # 400 + 300 - 60 + 500 - 50 - 500 = 590.00 at 19% = 112.10. Subtotal 400 + 300 - 60 + 500 = 1,140.00;
    # total 1,140.00 - 50.00 - 500.00 + 112.10 = 702.10.
    assert (upcoming["period_start"], upcoming["period_end"]) == ("2027-01-01", "2027-02-01")
    assert lines(upcoming) == [
        ("usage", "compute", "400.00"),
        ("subscription", "seat", "300.00"),
        ("discount", "seat", "-60.00"),
        ("commit_purchase", None, "500.00"),
        ("credit", None, "-50.00"),
        ("commit", None, "-500.00"),
        ("tax", None, "112.10"),
    ]
    assert upcoming["lines"][1]["description"] == "Seat: 10 x 2027-02-01 to 2027-03-01"
    assert (upcoming["subtotal"], upcoming["tax_total"], upcoming["total"]) == ("1140.00", "112.10", "702.10")

    # The period closes at midnight in Berlin; its draft finalizes when the 72-hour grace ends.
    api.advance(clock, "2027-02-04T00:00:00Z")
    opening, january = api.invoices("initech")
    # Opening: January's seats, 10 x 30 = 300.00, 20% off = -60.00; VAT on 240.00 at 19% = 45.60. The balances
    # did not exist yet: nothing paid from them. Total 240.00 + 45.60 = 285.60.
    assert lines(opening) == [
        ("subscription", "seat", "300.00"),
        ("discount", "seat", "-60.00"),
        ("tax", None, "45.60"),
    ]
    assert opening["lines"][0]["description"] == "Seat: 10 x 2027-01-01 to 2027-02-01"
    assert (opening["kind"], opening["subtotal"], opening["tax_total"]) == ("opening", "240.00", "45.60")
    assert summary(opening) == ("2027-01-01", "2027-02-01", "finalized", "285.60")
    assert summary(january) == ("2027-01-01", "2027-02-01", "finalized", "702.10")
    # Every field of every line the invoice shows, and its totals, as the upcoming invoice said.
    assert [{k: line[k] for k in january["lines"][0]} for line in upcoming["lines"]] == january["lines"]
    totals = ("currency", "period_start", "period_end", "subtotal", "tax_total", "total")
    assert {k: upcoming[k] for k in totals} == {k: january[k] for k in totals}
