"""Money agreed up front: a prepaid commitment drawn down and then expiring, and a minimum spend trued up."""

import pytest

from tests.scenarios.support import event, lines, summary

pytestmark = pytest.mark.django_db

COMPUTE = {
    "metrics": [{"code": "minutes", "name": "Compute minutes", "event_type": "job.finished", "aggregation": "sum",
                 "property": "minutes"}],
    "products": [{"code": "compute", "name": "Compute", "kind": "usage", "metric": "minutes"}],
    "card": "compute",
    "currency": "USD",
    "prices": [{"product": "compute", "model": "per_unit", "unit_price": "1.25"}],
    "effective_from": "2027-01-01",
}  # fmt: skip


def test_a_commitment_is_drawn_down_then_what_is_left_expires(api):
    api.catalog(**COMPUTE)
    clock = api.clock("commit", "2027-01-01T00:00:00Z")
    api.customer("hooli", clock=clock)
    contract = api.contract(customer="hooli", rate_card="compute", start_date="2027-01-01")
    # A 1,000 commitment for January and February (usable until 28 February; expires on 1 March).
    commit = api.post(
        f"/contracts/{contract}/balances",
        {
            "kind": "commit",
            "amount": "1000",
            "starts_on": "2027-01-01",
            "expires_on": "2027-03-01",
            "name": "Q1",
            "reason": "signed with the contract",
        },
        201,
    )["id"]
    api.advance(clock, "2027-01-10T09:00:00Z")
    api.send(event("j1", "hooli", "job.finished", "2027-01-10T08:00:00Z", minutes=320))
    api.advance(clock, "2027-02-12T00:00:00Z")
    api.send(event("j2", "hooli", "job.finished", minutes=400))  # 12 February
    api.advance(clock, "2027-03-20T00:00:00Z")
    api.send(event("j3", "hooli", "job.finished", minutes=100))  # 20 March, after the commitment expired
    api.advance(clock, "2027-04-04T00:00:00Z")
    opening, january, february, march = api.invoices("hooli")

    # The commitment is bought up front: its access starts in the first period, so the opening invoice bills
    # it (1,000.00), though the contract has no fees to bill in advance. A purchase is paid in money, not
    # from the balance it buys.
    assert lines(opening) == [("commit_purchase", None, "1000.00")]
    assert opening["lines"][0]["description"] == "Prepaid commitment: Q1 (usable 01 Jan 2027 to 28 Feb 2027)"
    assert (opening["kind"], summary(opening)) == ("opening", ("2027-01-01", "2027-02-01", "finalized", "1000.00"))
    # January: usage 320 x 1.25 = 400.00, all paid from the commitment: nothing due, so not numbered.
    assert lines(january) == [("usage", "compute", "400.00"), ("commit", None, "-400.00")]
    assert summary(january) == ("2027-01-01", "2027-02-01", "finalized", "0.00")
    assert (january["zero_total"], january["number"]) == (True, None)
    # February: 400 x 1.25 = 500.00, all from the 600.00 left: nothing due, so not numbered.
    assert lines(february) == [("usage", "compute", "500.00"), ("commit", None, "-500.00")]
    assert summary(february) == ("2027-02-01", "2027-03-01", "finalized", "0.00")
    assert (february["zero_total"], february["number"]) == (True, None)
    # March: the commitment has expired; 100 x 1.25 = 125.00 is billed.
    assert lines(march) == [("usage", "compute", "125.00")]
    assert summary(march) == ("2027-03-01", "2027-04-01", "finalized", "125.00")

    # The ledger: granted 1,000, drawn 400 and 500, and the 100 left expired once February's invoice (the last
    # that could draw on it) was final, on 4 March when its grace ended.
    entries = api.get(f"/contracts/{contract}/balances/{commit}/entries?page_size=50")["results"]
    assert [(e["kind"], e["amount"], e["effective_at"]) for e in entries] == [
        ("grant", "1000", "2027-01-01T00:00:00Z"),
        ("drawdown", "-400", "2027-02-04T00:00:00Z"),
        ("drawdown", "-500", "2027-03-04T00:00:00Z"),
        ("expiry", "-100", "2027-03-04T00:00:00Z"),
    ]
    assert [b["remaining"] for b in api.get(f"/contracts/{contract}/balances")] == ["0"]


def test_a_minimum_spend_is_trued_up_when_usage_falls_short(api):
    api.catalog(**COMPUTE)
    clock = api.clock("minimum", "2027-01-01T00:00:00Z")
    api.customer("pied-piper", clock=clock)
    api.contract(customer="pied-piper", rate_card="compute", start_date="2027-01-01", terms={"minimum_spend": "500"})
    # The clock is on 1 January: an event stamped the 15th is in the customer's future, and refused.
    early = api.post("/events", {"events": [event("p1", "pied-piper", "job.finished", "2027-01-15T00:00:00Z")]})
    assert (early["rejected"], early["results"][0]["code"]) == (1, "in_future")
    api.advance(clock, "2027-01-16T00:00:00Z")
    api.send(event("p1", "pied-piper", "job.finished", "2027-01-15T00:00:00Z", minutes=256))
    api.advance(clock, "2027-02-20T00:00:00Z")
    api.send(event("p2", "pied-piper", "job.finished", minutes=480))
    api.advance(clock, "2027-03-04T00:00:00Z")
    january, february = api.invoices("pied-piper")

    # January: 256 x 1.25 = 320.00, short of the 500 minimum by 180.00, billed as a true-up.
    assert lines(january) == [("usage", "compute", "320.00"), ("minimum", None, "180.00")]
    assert january["lines"][1]["description"] == "Minimum spend true-up (minimum 500.00)"
    assert summary(january) == ("2027-01-01", "2027-02-01", "finalized", "500.00")
    # February: 480 x 1.25 = 600.00, above the minimum: no true-up.
    assert lines(february) == [("usage", "compute", "600.00")]
    assert summary(february) == ("2027-02-01", "2027-03-01", "finalized", "600.00")
