"""Time at the edges: an event that arrives after its period's invoice was finalized, and a billing anchor on
the 31st through February (in a common year and in a leap year)."""

import pytest

from tests.scenarios.support import event, lines, summary

pytestmark = pytest.mark.django_db


def test_a_late_event_after_finalization_is_a_correction_on_the_next_invoice(api):
    api.catalog(
        metrics=[{"code": "gb", "name": "Data", "event_type": "transfer", "aggregation": "sum", "property": "gb"}],
        products=[{"code": "egress", "name": "Egress", "kind": "usage", "metric": "gb"}],
        card="net",
        currency="USD",
        prices=[{"product": "egress", "model": "per_unit", "unit_price": "0.09"}],
        effective_from="2027-01-01",
    )
    clock = api.clock("late", "2027-01-25T00:00:00Z")
    api.customer("stark", clock=clock)
    api.contract(customer="stark", rate_card="net", start_date="2027-01-01")
    api.send(event("t1", "stark", "transfer", "2027-01-24T00:00:00Z", gb=1000))
    api.advance(clock, "2027-02-10T00:00:00Z")  # January was finalized on 4 February
    # Sent on 10 February, stamped 20 January: January's invoice is final, so it is billed on February's.
    api.send(event("t2", "stark", "transfer", "2027-01-20T00:00:00Z", gb=250))
    api.send(event("t3", "stark", "transfer", gb=40))  # no timestamp: 10 February on the clock
    # Older than the 35-day window counted back from the clock's now (6 January 2027): refused.
    stale = api.post("/events", {"events": [event("t4", "stark", "transfer", "2027-01-05T00:00:00Z", gb=1)]})
    assert (stale["rejected"], stale["results"][0]["code"]) == (1, "too_old")
    api.advance(clock, "2027-03-04T00:00:00Z")
    january, february = api.invoices("stark")

    # January as finalized: 1,000 GB x 0.09 = 90.00; the late event did not change it.
    assert lines(january) == [("usage", "egress", "90.00")]
    assert summary(january) == ("2027-01-01", "2027-02-01", "finalized", "90.00")
    # February: its own 40 GB x 0.09 = 3.60, and January again: 1,250 x 0.09 = 112.50 less the 90.00 billed,
    # a correction of 22.50. Total 26.10.
    assert lines(february) == [("usage", "egress", "3.60"), ("correction", "egress", "22.50")]
    assert february["lines"][1]["description"] == (
        f"Late usage: Egress, 2027-01-01 to 2027-02-01 (invoice {january['number']})"
    )
    assert summary(february) == ("2027-02-01", "2027-03-01", "finalized", "26.10")


def _anchor_on_the_31st(api, *, customer: str, year: int) -> list[dict]:
    """A contract anchored on 31 January of `year`, three monthly periods run on a clock."""
    clock = api.clock(f"anchor {year}", f"{year}-01-31T00:00:00Z")
    api.customer(customer, clock=clock)
    api.contract(
        customer=customer,
        rate_card="monthly",
        start_date=f"{year}-01-31",
        billing_anchor=f"{year}-01-31",
        subscriptions=[{"product": "seat", "quantity": "3"}, {"product": "platform", "quantity": "1"}],
    )
    api.advance(clock, f"{year}-05-10T00:00:00Z")
    return api.invoices(customer)


def test_an_anchor_on_the_31st_clamps_to_the_end_of_february_and_comes_back(api):
    api.catalog(
        metrics=[],
        products=[
            {"code": "seat", "name": "Seat", "kind": "subscription", "unit_label": "seat"},
            {"code": "platform", "name": "Platform fee", "kind": "recurring_fee"},
        ],
        card="monthly",
        currency="USD",
        prices=[
            {"product": "seat", "model": "per_unit", "unit_price": "20"},
            {"product": "platform", "model": "flat", "flat_amount": "100"},
        ],
        effective_from="2027-01-01",
    )
    # Every period is a whole period: 3 seats x 20 = 60.00 and the 100.00 fee, 160.00 each, however long
    # the month. A period starts on the anchor day, or on the month's last day when it has no 31st. Fees are
    # billed in advance: the first period on the opening invoice, each later one on the invoice closing the
    # period before it (each period's own fees, billed ahead and unchanged, get no line there).
    common = _anchor_on_the_31st(api, customer="wayne", year=2027)
    assert [(i["kind"], *summary(i)) for i in common] == [
        ("opening", "2027-01-31", "2027-02-28", "finalized", "160.00"),
        ("period", "2027-01-31", "2027-02-28", "finalized", "160.00"),
        ("period", "2027-02-28", "2027-03-31", "finalized", "160.00"),
        ("period", "2027-03-31", "2027-04-30", "finalized", "160.00"),
    ]
    assert all(lines(i) == [("subscription", "seat", "60.00"), ("subscription", "platform", "100.00")] for i in common)
    # The stretches each invoice pays for: the opening the first period, each period invoice the next one.
    billed_for = [("2027-01-31", "2027-02-28"), ("2027-02-28", "2027-03-31"), ("2027-03-31", "2027-04-30"),
                  ("2027-04-30", "2027-05-31")]  # fmt: skip
    assert [[line["description"] for line in i["lines"]] for i in common] == [
        [f"Seat: 3 x {start} to {end}", f"Platform fee: 1 x {start} to {end}"] for start, end in billed_for
    ]
    leap = _anchor_on_the_31st(api, customer="kent", year=2028)  # 2028 has a 29 February
    assert [(i["kind"], *summary(i)) for i in leap] == [
        ("opening", "2028-01-31", "2028-02-29", "finalized", "160.00"),
        ("period", "2028-01-31", "2028-02-29", "finalized", "160.00"),
        ("period", "2028-02-29", "2028-03-31", "finalized", "160.00"),
        ("period", "2028-03-31", "2028-04-30", "finalized", "160.00"),
    ]
    assert all(lines(i) == [("subscription", "seat", "60.00"), ("subscription", "platform", "100.00")] for i in leap)
    billed_for = [("2028-01-31", "2028-02-29"), ("2028-02-29", "2028-03-31"), ("2028-03-31", "2028-04-30"),
                  ("2028-04-30", "2028-05-31")]  # fmt: skip
    assert [[line["description"] for line in i["lines"]] for i in leap] == [
        [f"Seat: 3 x {start} to {end}", f"Platform fee: 1 x {start} to {end}"] for start, end in billed_for
    ]
    # The April period ends on 30 April: its invoice waits for 3 May (end plus grace) and is final by the 10th.
    assert leap[-1]["finalized_at"] == "2028-05-03T00:00:00Z"
