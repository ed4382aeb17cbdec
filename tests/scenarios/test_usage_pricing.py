"""Usage priced two ways over two months: graduated against volume tiers on the same usage, and included
usage with overage. Every amount is worked out by hand beside it."""

from decimal import Decimal

import pytest

from tests.scenarios.support import event, lines, summary

pytestmark = pytest.mark.django_db

TIERS = [
    {"start": "0", "up_to": "1000", "unit_price": "0.10"},
    {"start": "1000", "up_to": "5000", "unit_price": "0.08"},
    {"start": "5000", "up_to": None, "unit_price": "0.05"},
]


def test_graduated_and_volume_tiers_on_the_same_usage(api):
    api.catalog(
        metrics=[{"code": "calls", "name": "API calls", "event_type": "api.call", "aggregation": "sum",
                  "property": "n", "unit_label": "calls"}],
        products=[
            {"code": "calls-graduated", "name": "Calls (graduated)", "kind": "usage", "metric": "calls"},
            {"code": "calls-volume", "name": "Calls (volume)", "kind": "usage", "metric": "calls"},
        ],
        card="tiers",
        currency="USD",
        prices=[
            {"product": "calls-graduated", "model": "graduated", "tiers": TIERS},
            {"product": "calls-volume", "model": "volume", "tiers": TIERS},
        ],
        effective_from="2027-01-01",
    )  # fmt: skip
    clock = api.clock("tiers", "2027-01-01T00:00:00Z")
    api.customer("initech", clock=clock)
    api.contract(customer="initech", rate_card="tiers", start_date="2027-01-01")
    api.advance(clock, "2027-01-20T12:00:00Z")
    api.send(
        event("c1", "initech", "api.call", "2027-01-05T10:00:00Z", n=2000),
        event("c2", "initech", "api.call", "2027-01-18T10:00:00Z", n=3000),
        event("c3", "initech", "api.call", n=1200),  # no timestamp: the clock's now, 20 January
    )
    api.advance(clock, "2027-02-10T00:00:00Z")
    api.send(event("c4", "initech", "api.call", n=800))  # 10 February
    api.advance(clock, "2027-03-04T00:00:00Z")
    january, february = api.invoices("initech")

    # January, 6,200 calls. Graduated: 1,000 x 0.10 = 100 + 4,000 x 0.08 = 320 + 1,200 x 0.05 = 60 -> 480.00.
    # Volume: all 6,200 at the tier reached (5,001+), 0.05 -> 310.00. Total 790.00.
    assert lines(january) == [("usage", "calls-graduated", "480.00"), ("usage", "calls-volume", "310.00")]
    assert summary(january) == ("2027-01-01", "2027-02-01", "finalized", "790.00")
    graduated = january["lines"][0]["breakdown"]
    assert [(b["quantity"], b["unit_price"], b["amount"], b["tier"]) for b in graduated] == [
        ("1000", "0.1", "100", 1),
        ("4000", "0.08", "320", 2),
        ("1200", "0.05", "60", 3),
    ]
    volume = january["lines"][1]["breakdown"]
    assert [(b["quantity"], b["unit_price"], b["amount"], b["tier"]) for b in volume] == [("6200", "0.05", "310", 3)]
    # February, 800 calls, all in the first tier either way: 800 x 0.10 = 80.00 each.
    assert lines(february) == [("usage", "calls-graduated", "80.00"), ("usage", "calls-volume", "80.00")]
    assert summary(february) == ("2027-02-01", "2027-03-01", "finalized", "160.00")


def test_included_usage_is_free_and_the_overage_is_billed(api):
    api.catalog(
        metrics=[{"code": "credits", "name": "AI credits", "event_type": "credits.used", "aggregation": "sum",
                  "property": "credits"}],
        products=[
            {"code": "credits", "name": "AI credits", "kind": "usage", "metric": "credits"},
            {"code": "platform", "name": "Platform fee", "kind": "recurring_fee"},
        ],
        card="ai",
        currency="EUR",
        prices=[
            {"product": "credits", "model": "per_unit", "unit_price": "0.02"},
            {"product": "platform", "model": "flat", "flat_amount": "200"},
        ],
        effective_from="2027-01-01",
    )  # fmt: skip
    clock = api.clock("included", "2027-01-01T00:00:00Z")
    api.customer("umbrella", clock=clock, currency="EUR")
    api.contract(
        customer="umbrella",
        rate_card="ai",
        start_date="2027-01-01",
        terms={"included_usage": [{"product": "credits", "quantity": "10000"}]},
        subscriptions=[{"product": "platform", "quantity": "1"}],
    )
    api.send(
        event("u1", "umbrella", "credits.used", "2027-01-01T00:00:00Z", credits=9000),
        event("u2", "umbrella", "credits.used", "2027-01-01T00:00:00Z", credits=3500),
    )
    api.advance(clock, "2027-02-15T00:00:00Z")
    api.send(event("u3", "umbrella", "credits.used", credits=7000))
    # Current usage is the clock's current period: February so far, 7,000 credits, all included: 0.00 of usage.
    current = api.get("/customers/umbrella/usage")
    assert (current["period_start"], current["period_end"], current["total"]) == ("2027-02-01", "2027-03-01", "0.00")
    assert [(m["code"], Decimal(m["quantity"])) for m in current["metrics"]] == [("credits", 7000)]
    api.advance(clock, "2027-04-04T00:00:00Z")
    opening, january, february, march = api.invoices("umbrella")

    # The platform fee is billed in advance: January's on the opening invoice, 200.00.
    assert lines(opening) == [("subscription", "platform", "200.00")]
    assert opening["lines"][0]["description"] == "Platform fee: 1 x 2027-01-01 to 2027-02-01"
    assert (opening["kind"], summary(opening)) == ("opening", ("2027-01-01", "2027-02-01", "finalized", "200.00"))
    # January: 12,500 credits, 10,000 included: 2,500 x 0.02 = 50.00. January's platform fee was billed in
    # advance and did not change: no line for it; February's is billed ahead, 200.00. Total 250.00.
    assert lines(january) == [("usage", "credits", "50.00"), ("subscription", "platform", "200.00")]
    assert january["lines"][1]["description"] == "Platform fee: 1 x 2027-02-01 to 2027-03-01"
    assert summary(january) == ("2027-01-01", "2027-02-01", "finalized", "250.00")
    assert (january["lines"][0]["quantity"], january["currency"]) == ("12500", "EUR")
    assert [(b["description"], b["quantity"], b["amount"]) for b in january["lines"][0]["breakdown"]] == [
        ("Included units (no charge)", "10000", "0"),
        ("Per unit", "2500", "50"),
    ]
    # February: 7,000 credits, all included: 0.00; March's platform fee ahead, 200.00. Total 200.00.
    assert lines(february) == [("usage", "credits", "0.00"), ("subscription", "platform", "200.00")]
    assert february["lines"][1]["description"] == "Platform fee: 1 x 2027-03-01 to 2027-04-01"
    assert summary(february) == ("2027-02-01", "2027-03-01", "finalized", "200.00")
    # March: no usage at all: only April's platform fee ahead, 200.00 (an empty usage line is left off;
    # February's stays, because usage was measured there even though the included units covered it).
    assert lines(march) == [("subscription", "platform", "200.00")]
    assert march["lines"][0]["description"] == "Platform fee: 1 x 2027-04-01 to 2027-05-01"
    assert summary(march) == ("2027-03-01", "2027-04-01", "finalized", "200.00")
