"""Commitments and credits through the API: grant, draw (by the service, as billing will), the ledger, adjust, void.

Every refusal is a 400 naming the field (or a 409), and the ledger is left as it was.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from contracts.models import Balance, Contract, LedgerEntry
from contracts.services import balances
from revops import clock
from tests.contracts.test_api_contracts import API, make_card, make_customer, signed_id

pytestmark = pytest.mark.django_db

NOV_10 = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)
CREDIT = {
    "kind": "credit",
    "amount": "100.00",
    "starts_on": "2026-11-01",
    "expires_on": "2027-01-01",
    "name": "Goodwill",
    "reason": "outage in October",
}
COMMIT = {
    "kind": "commit",
    "amount": "1000",
    "starts_on": "2026-11-01",
    "expires_on": "2026-12-01",
    "priority": 10,
    "rollover_fraction": "0.25",
    "name": "Prepaid November",
    "reason": "prepaid commitment",
}


@pytest.fixture
def contract(write_client, db):
    make_card()
    make_customer()
    return signed_id(write_client)


def grant(client, pk, **body):
    with clock.frozen_at(NOV_10):
        return client.post(f"{API}/contracts/{pk}/balances", body, format="json")


def granted_id(client, pk, **body) -> int:
    response = grant(client, pk, **body)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def move(client, pk, balance_id, action, **body):
    with clock.frozen_at(NOV_10):
        return client.post(f"{API}/contracts/{pk}/balances/{balance_id}/{action}", body, format="json")


def remaining(client, pk):
    return [(b["name"], b["remaining"]) for b in client.get(f"{API}/contracts/{pk}/balances").json()]


def test_grant_draw_read_the_ledger_adjust_and_void(write_client, contract):
    created = grant(write_client, contract, **CREDIT)
    assert created.status_code == 201, created.json()
    credit = created.json()
    assert {k: v for k, v in credit.items() if k not in ("id", "created_at")} == {
        "kind": "credit",
        "name": "Goodwill",
        "amount": "100",
        "remaining": "100",
        "starts_on": "2026-11-01",
        "expires_on": "2027-01-01",
        "priority": 100,
        "product": None,
        "rollover_fraction": "0",
        "reason": "outage in October",
    }
    commit = granted_id(write_client, contract, **COMMIT)

    # Billing draws: the commitment expires first, so it pays first.
    drawn = balances.balance_draw_down(
        contract=Contract.objects.get(pk=contract),
        amount=D(150),
        on=dt.date(2026, 11, 10),
        as_of=NOV_10,
        actor=None,
        reference="invoice 2026-0042",
    )
    assert drawn.short == 0
    assert remaining(write_client, contract) == [("Prepaid November", "850"), ("Goodwill", "100")]

    ledger = write_client.get(f"{API}/contracts/{contract}/balances/{commit}/entries").json()
    assert ledger["count"] == 2
    assert [(e["kind"], e["amount"], e["reference"], e["effective_at"]) for e in ledger["results"]] == [
        ("grant", "1000", "", "2026-11-10T12:00:00Z"),
        ("drawdown", "-150", "invoice 2026-0042", "2026-11-10T12:00:00Z"),
    ]

    down = move(write_client, contract, credit["id"], "adjust", amount="-20", reason="over-granted")
    assert down.status_code == 200, down.json()
    assert (down.json()["entry"]["kind"], down.json()["entry"]["amount"], down.json()["entry"]["memo"]) == (
        "adjustment",
        "-20",
        "over-granted",
    )
    assert down.json()["entry"]["created_by"] == "svc-product"
    assert down.json()["balance"]["remaining"] == "80"
    up = move(write_client, contract, credit["id"], "adjust", amount="5.5", reason="goodwill top-up")
    assert up.json()["balance"]["remaining"] == "85.5"

    voided = move(write_client, contract, credit["id"], "void", reason="granted to the wrong contract")
    assert voided.status_code == 200, voided.json()
    assert (voided.json()["entry"]["kind"], voided.json()["entry"]["amount"]) == ("void", "-85.5")
    assert voided.json()["balance"]["remaining"] == "0"
    again = move(write_client, contract, credit["id"], "void", reason="twice")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "nothing_left")

    page = write_client.get(f"{API}/contracts/{contract}/balances/{credit['id']}/entries", {"page_size": 2}).json()
    assert (page["count"], page["next"] is not None) == (4, True)
    assert [e["kind"] for e in page["results"]] == ["grant", "adjustment"]
    assert remaining(write_client, contract) == [("Prepaid November", "850"), ("Goodwill", "0")]

    # The contract read as of a day shows what each balance held at that day's end.
    on_the_10th = write_client.get(f"{API}/contracts/{contract}", {"as_of": "2026-11-10"}).json()
    assert [(b["name"], b["remaining"]) for b in on_the_10th["balances"]] == [
        ("Prepaid November", "850"),
        ("Goodwill", "0"),
    ]
    on_the_9th = write_client.get(f"{API}/contracts/{contract}", {"as_of": "2026-11-09"}).json()
    assert [b["remaining"] for b in on_the_9th["balances"]] == ["0", "0"]  # granted on the 10th
    october = write_client.get(f"{API}/contracts/{contract}", {"as_of": "2026-10-31"}).json()
    assert october["balances"] == []  # neither had started


def test_a_credit_may_be_limited_to_one_product(write_client, contract):
    response = grant(write_client, contract, **{**CREDIT, "product": "seat"})
    assert (response.status_code, response.json()["product"]) == (201, "seat")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "-100"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": 100.5}, "amount"),  # a float is not exact
        ({"amount": "1.0001"}, "amount"),  # finer than the ledger keeps
        ({"expires_on": "2026-11-01"}, "expires_on"),  # dates out of order
        ({"expires_on": "2026-10-01"}, "expires_on"),
        ({"rollover_fraction": "0.5"}, "rollover_fraction"),  # credits do not roll over
        ({"kind": "commit", "rollover_fraction": "1.5"}, "rollover_fraction"),
        ({"kind": "commit", "product": "seat"}, "product"),  # commitments cover the whole contract
        ({"product": "nope"}, "product"),
        ({"kind": "gift"}, "kind"),
        ({"priority": -1}, "priority"),
        ({"reason": ""}, "reason"),
        ({"currency": "USD"}, "currency"),  # not accepted here
    ],
)
def test_a_bad_grant_is_refused_naming_the_field_and_nothing_is_granted(write_client, contract, changes, field):
    response = grant(write_client, contract, **{**CREDIT, **changes})
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert not Balance.objects.exists() and not LedgerEntry.objects.exists()


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("adjust", {"amount": "-100.01", "reason": "fix"}, "amount"),  # below zero
        ("adjust", {"amount": "0", "reason": "fix"}, "amount"),
        ("adjust", {"amount": -20.0, "reason": "fix"}, "amount"),
        ("adjust", {"amount": "-20"}, "reason"),
        ("adjust", {"amount": "-20", "reason": " "}, "reason"),
        ("adjust", {"amount": "-20", "reason": "fix", "kind": "void"}, "kind"),
        ("void", {}, "reason"),
        ("void", {"reason": "mistake", "amount": "10"}, "amount"),
    ],
)
def test_a_bad_adjustment_or_void_is_refused_and_the_ledger_is_unchanged(write_client, contract, action, body, field):
    credit = granted_id(write_client, contract, **CREDIT)
    response = move(write_client, contract, credit, action, **body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert list(LedgerEntry.objects.values_list("kind", "amount")) == [("grant", D(100))]


def test_a_balance_of_another_contract_is_404(write_client, contract):
    other = signed_id(write_client, start_date="2027-01-01")
    theirs = granted_id(write_client, other, **CREDIT)
    for response in (
        write_client.get(f"{API}/contracts/{contract}/balances/{theirs}/entries"),
        move(write_client, contract, theirs, "adjust", amount="5", reason="x"),
        move(write_client, contract, theirs, "void", reason="x"),
        write_client.get(f"{API}/contracts/{contract}/balances/999/entries"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "balance_not_found"
    assert LedgerEntry.objects.count() == 1


def test_a_read_key_reads_balances_but_cannot_move_money(read_client, write_client, contract):
    credit = granted_id(write_client, contract, **CREDIT)
    assert remaining(read_client, contract) == [("Goodwill", "100")]
    assert read_client.get(f"{API}/contracts/{contract}/balances/{credit}/entries").json()["count"] == 1
    refused = [
        grant(read_client, contract, **CREDIT),
        move(read_client, contract, credit, "adjust", amount="50", reason="x"),
        move(read_client, contract, credit, "void", reason="x"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert (Balance.objects.count(), list(LedgerEntry.objects.values_list("kind", flat=True))) == (1, ["grant"])


def test_ingest_keys_and_anonymous_callers_are_refused(ingest_client, anon_client, write_client, contract):
    credit = granted_id(write_client, contract, **CREDIT)
    assert ingest_client.get(f"{API}/contracts/{contract}/balances").status_code == 403
    assert ingest_client.get(f"{API}/contracts/{contract}/balances/{credit}/entries").status_code == 403
    assert anon_client.get(f"{API}/contracts/{contract}/balances").status_code == 401
    assert grant(anon_client, contract, **CREDIT).status_code == 401
    assert move(anon_client, contract, credit, "void", reason="x").status_code == 401
    assert (Balance.objects.count(), LedgerEntry.objects.count()) == (1, 1)
