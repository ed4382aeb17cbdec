"""Contracts through the API: sign, activate, amend, read as of a day, end; every refusal leaves nothing behind.

`make_card`, `make_customer`, `SIGNED` and `sign` are shared with the other contract API tests.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from catalog.services import metrics, products, rate_cards
from contracts.models import Contract, ContractStatus, ContractVersion, Customer, PriceOverride, SubscriptionChange
from revops import clock

pytestmark = pytest.mark.django_db

API = "/api/v1"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)

# Signed from 2026-01-01: 10 seats, 1,000 AI credits included every month.
SIGNED = {
    "customer": "acme",
    "rate_card": "std",
    "start_date": "2026-01-01",
    "name": "Acme 2026",
    "terms": {"included_usage": [{"product": "credits", "quantity": "1000"}]},
    "subscriptions": [{"product": "seat", "quantity": "10"}],
}


def make_card():
    """Seats at 40, pro seats at 70, a platform fee of 500, AI credits at 0.01 and tokens per model (large
    0.001, any other 0.0001), on the USD card `std` from 2026-01-01."""
    credits_metric = metrics.metric_create(
        code="credits", name="Credits", event_type="credits.used", aggregation="sum", property="credits", actor=None
    )
    tokens_metric = metrics.metric_create(
        code="tokens", name="Tokens", event_type="llm", aggregation="sum", property="tokens", group_by=["model"],
        actor=None,
    )  # fmt: skip
    seat = products.product_create(code="seat", name="Seat", kind="subscription", actor=None)
    pro = products.product_create(code="pro-seat", name="Pro seat", kind="subscription", actor=None)
    fee = products.product_create(code="platform", name="Platform fee", kind="recurring_fee", actor=None)
    credits = products.product_create(
        code="credits", name="AI credits", kind="usage", metric=credits_metric, actor=None
    )
    tokens = products.product_create(code="tokens", name="Tokens", kind="usage", metric=tokens_metric, actor=None)
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    for product, values in [
        (seat, {"model": "per_unit", "unit_price": D(40)}),
        (pro, {"model": "per_unit", "unit_price": D(70)}),
        (fee, {"model": "flat", "flat_amount": D(500)}),
        (credits, {"model": "per_unit", "unit_price": D("0.01")}),
    ]:
        rate_cards.price_set(version=version, product=product, values=values, actor=None)
    for group, unit_price in [("large", D("0.001")), ("", D("0.0001"))]:
        rate_cards.price_set(
            version=version,
            product=tokens,
            values={"model": "per_unit", "unit_price": unit_price},
            group_key="model",
            group_value=group,
            actor=None,
        )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    return card


def make_customer(external_id="acme", currency="USD"):
    return Customer.objects.create(external_id=external_id, name=external_id.title(), currency=currency)


def sign(client, **changes):
    """POST a contract: SIGNED with `changes`; a change of None leaves the field out."""
    body = {k: v for k, v in {**SIGNED, **changes}.items() if v is not None}
    return client.post(f"{API}/contracts", body, format="json")


def signed_id(client, **changes) -> int:
    response = sign(client, **changes)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.fixture
def card(db):
    return make_card()


@pytest.fixture
def acme(db):
    return make_customer()


def nothing_signed():
    return not (Contract.objects.exists() or ContractVersion.objects.exists() or SubscriptionChange.objects.exists())


# --- the whole life of a contract ---------------------------------------------------------------------------------


def test_sign_activate_amend_and_read_the_contract_as_of_each_version(write_client, card, acme, service_user):
    created = sign(write_client)
    assert created.status_code == 201, created.json()
    body = created.json()
    pk = body["id"]
    assert {k: body[k] for k in ("customer", "rate_card", "pinned_version", "currency", "status", "as_of")} == {
        "customer": "acme",
        "rate_card": "std",
        "pinned_version": None,
        "currency": "USD",
        "status": "draft",
        "as_of": "2026-01-01",  # shown as of its start
    }
    assert (body["cadence"], body["billing_anchor"], body["proration"]) == ("monthly", "2026-01-01", "next_invoice")
    assert body["terms"]["number"] == 1
    assert body["terms"]["created_by"] == "svc-product"
    assert body["terms"]["terms"] == {
        "overrides": [],
        "included_usage": [{"product": "credits", "quantity": "1000"}],
        "minimum_spend": None,
        "trial": None,
    }
    assert body["subscriptions"] == [{"product": "seat", "quantity": "10"}]
    assert body["balances"] == []

    activated = write_client.post(f"{API}/contracts/{pk}/activate", {}, format="json")
    assert activated.status_code == 200, activated.json()
    assert activated.json()["status"] == "active"

    amended = write_client.post(
        f"{API}/contracts/{pk}/amendments",
        {
            "effective_from": "2026-12-01",
            "reason": "renewal: 25% off seats, a 300 minimum",
            "terms": {
                "overrides": [{"kind": "discount", "product": "seat", "discount_percent": "25"}],
                "minimum_spend": "300",
            },
        },
        format="json",
    )
    assert amended.status_code == 201, amended.json()
    v2_terms = {
        "overrides": [
            {"kind": "discount", "product": "seat", "multiplier": None, "discount_percent": "25", "price": None}
        ],
        "included_usage": [{"product": "credits", "quantity": "1000"}],  # carried over
        "minimum_spend": "300",
        "trial": None,
    }
    assert (amended.json()["number"], amended.json()["effective_from"]) == (2, "2026-12-01")
    assert amended.json()["terms"] == v2_terms

    # Later seats: 16 from 2026-11-21 (the schedule is read as of each day too).
    write_client.post(
        f"{API}/contracts/{pk}/subscriptions",
        {"product": "seat", "quantity": "16", "effective_date": "2026-11-21", "reason": "expansion"},
        format="json",
    )

    november = write_client.get(f"{API}/contracts/{pk}", {"as_of": "2026-11-15"}).json()
    december = write_client.get(f"{API}/contracts/{pk}", {"as_of": "2026-12-15"}).json()
    assert (november["as_of"], november["terms"]["number"], december["terms"]["number"]) == ("2026-11-15", 1, 2)
    assert november["terms"]["terms"] == body["terms"]["terms"]  # v1 exactly as signed
    assert december["terms"]["terms"] == v2_terms
    assert november["subscriptions"] == [{"product": "seat", "quantity": "10"}]
    assert december["subscriptions"] == [{"product": "seat", "quantity": "16"}]
    assert [(v["number"], v["effective_from"]) for v in december["versions"]] == [
        (1, "2026-01-01"),
        (2, "2026-12-01"),
    ]
    before = write_client.get(f"{API}/contracts/{pk}", {"as_of": "2025-12-31"}).json()
    assert (before["terms"], before["subscriptions"]) == (None, [])

    with clock.frozen_at(NOW):  # no as_of: today
        today = write_client.get(f"{API}/contracts/{pk}").json()
    assert (today["as_of"], today["status"], today["terms"]["number"]) == ("2026-11-24", "active", 1)

    versions = write_client.get(f"{API}/contracts/{pk}/amendments").json()
    assert [(v["number"], v["reason"], v["terms"]["minimum_spend"]) for v in versions] == [
        (1, "contract signed over the API", None),
        (2, "renewal: 25% off seats, a 300 minimum", "300"),
    ]
    # Who and why are in the history.
    v2 = ContractVersion.objects.get(contract_id=pk, number=2)
    assert (v2.created_by, v2.history.get().history_change_reason) == (service_user, v2.reason)
    override = PriceOverride.objects.get(version=v2)
    assert override.history.get().history_user == service_user
    contract = Contract.objects.get(pk=pk)
    # The client's X-Change-Reason header (tests/conftest.py) is the person's why, kept over the service's.
    assert [h.history_change_reason for h in contract.history.order_by("history_id")] == [
        "test change",
        "test change",
    ]


def test_signing_with_every_field(write_client, card, acme):
    response = sign(
        write_client,
        pinned_version=1,
        end_date="2027-01-01",
        cadence="quarterly",
        billing_anchor="2026-01-15",
        proration="immediately",
        reason="signed by Jane",
        terms={
            "overrides": [
                {"kind": "multiplier", "product": None, "multiplier": "0.9"},
                {
                    "kind": "replace",
                    "product": "credits",
                    "price": {
                        "model": "graduated",
                        "tiers": [
                            {"start": "0", "up_to": "1000", "unit_price": "0"},
                            {"start": "1000", "up_to": None, "unit_price": "0.02"},
                        ],
                    },
                },
            ],
            "minimum_spend": "1000.50",
            "trial": {"ends_on": "2026-02-01"},
        },
        subscriptions=[{"product": "seat", "quantity": "10"}, {"product": "platform", "quantity": "1"}],
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["pinned_version"], body["end_date"], body["cadence"], body["billing_anchor"]) == (
        1,
        "2027-01-01",
        "quarterly",
        "2026-01-15",
    )
    terms = body["terms"]["terms"]
    assert terms["overrides"][0] == {
        "kind": "multiplier",
        "product": None,
        "multiplier": "0.9",
        "discount_percent": None,
        "price": None,
    }
    assert terms["overrides"][1]["price"] == {  # stored exactly, as written
        "model": "graduated",
        "tiers": [
            {"start": "0", "up_to": "1000", "unit_price": "0", "flat_fee": "0"},
            {"start": "1000", "up_to": None, "unit_price": "0.02", "flat_fee": "0"},
        ],
    }
    assert (terms["minimum_spend"], terms["trial"], terms["included_usage"]) == (
        "1000.5",
        {"ends_on": "2026-02-01", "usage_billed": False},
        [],  # given terms without included usage: none
    )
    assert body["subscriptions"] == [{"product": "platform", "quantity": "1"}, {"product": "seat", "quantity": "10"}]
    assert Contract.objects.get().history.get().history_change_reason == "signed by Jane"


def test_list_is_paginated_and_filters_by_customer(write_client, card, acme):
    make_customer("globex")
    signed_id(write_client)
    signed_id(write_client, start_date="2027-01-01")
    signed_id(write_client, customer="globex")
    everything = write_client.get(f"{API}/contracts", {"page_size": 2}).json()
    assert (everything["count"], len(everything["results"]), everything["next"] is not None) == (3, 2, True)
    acme_only = write_client.get(f"{API}/contracts", {"customer": "acme"}).json()
    assert [(c["customer"], c["start_date"]) for c in acme_only["results"]] == [
        ("acme", "2026-01-01"),
        ("acme", "2027-01-01"),
    ]
    assert write_client.get(f"{API}/contracts", {"customer": "nobody"}).json()["count"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ""),
        ("post", "/activate"),
        ("post", "/end"),
        ("get", "/amendments"),
        ("get", "/subscriptions"),
        ("post", "/plan-changes"),
        ("get", "/balances"),
        ("get", "/balances/1/entries"),
        ("post", "/preview"),
    ],
)
def test_an_unknown_contract_is_404(write_client, method, path):
    response = getattr(write_client, method)(f"{API}/contracts/999{path}", {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "contract_not_found"


def test_a_bad_as_of_is_400(write_client, card, acme):
    pk = signed_id(write_client)
    response = write_client.get(f"{API}/contracts/{pk}", {"as_of": "2026-13-01"})
    assert response.status_code == 400
    assert "as_of" in response.json()["error"]["fields"]


# --- refusals: 400 naming the field, nothing made -----------------------------------------------------------------

CREDITS_1000 = {"product": "credits", "quantity": "1000"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # overlapping terms
        ({"terms": {"included_usage": [CREDITS_1000, {**CREDITS_1000, "quantity": "5"}]}}, "terms.included_usage.1"),
        (
            {
                "terms": {
                    "overrides": [
                        {"kind": "discount", "product": "seat", "discount_percent": "10"},
                        {"kind": "multiplier", "product": "seat", "multiplier": "2"},
                    ]
                }
            },
            "terms.overrides.1",
        ),
        ({"terms": {"included_usage": [{"product": "seat", "quantity": "3"}]}}, "terms.included_usage.0"),
        # negative amounts and quantities
        ({"terms": {"minimum_spend": "-5"}}, "terms.minimum_spend"),
        ({"terms": {"included_usage": [{**CREDITS_1000, "quantity": "-1000"}]}}, "terms.included_usage.0.quantity"),
        ({"terms": {"overrides": [{"kind": "multiplier", "multiplier": "-1"}]}}, "terms.overrides.0.multiplier"),
        ({"terms": {"overrides": [{"kind": "discount", "discount_percent": "120"}]}},
         "terms.overrides.0.discount_percent"),
        # dates out of order
        ({"end_date": "2025-12-01"}, "end_date"),
        ({"end_date": "2026-01-01"}, "end_date"),
        # floats are not exact
        ({"terms": {"minimum_spend": 100.5}}, "terms.minimum_spend"),
        ({"subscriptions": [{"product": "seat", "quantity": 2.5}]}, "subscriptions.0.quantity"),
        # unknown fields, at the top and nested
        ({"currency": "USD"}, "currency"),
        ({"terms": {"overrides": [{"kind": "discount", "product": "seat", "percent": "10"}]}},
         "terms.overrides.0.percent"),
        (
            {"terms": {"overrides": [{"kind": "replace", "product": "seat",
                                      "price": {"model": "per_unit", "unit_price": "30", "currency": "EUR"}}]}},
            "terms.overrides.0.price.currency",
        ),
        # names that do not exist
        ({"rate_card": "nope"}, "rate_card"),
        ({"customer": "nobody"}, "customer"),
        ({"subscriptions": [{"product": "nope", "quantity": "1"}]}, "subscriptions.0.product"),
        ({"terms": {"included_usage": [{"product": "nope", "quantity": "1"}]}}, "terms.included_usage.0.product"),
        ({"pinned_version": 7}, "pinned_version"),
        # choices and required fields
        ({"cadence": "weekly"}, "cadence"),
        ({"terms": {"overrides": [{"kind": "free", "product": "seat"}]}}, "terms.overrides.0.kind"),
        ({"start_date": None}, "start_date"),
    ],
)  # fmt: skip
def test_a_bad_contract_is_refused_naming_the_field_and_nothing_is_signed(write_client, card, acme, changes, field):
    response = sign(write_client, **changes)
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert nothing_signed()


def test_a_currency_other_than_the_rate_cards_is_refused(write_client, card):
    make_customer("euro-gmbh", currency="EUR")
    response = sign(write_client, customer="euro-gmbh")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], list(error["fields"])) == ("currency_mismatch", ["rate_card"])
    assert nothing_signed()


def test_null_removes_the_minimum_or_trial_in_an_amendment_and_leaving_it_out_keeps_it(write_client, card, acme):
    pk = signed_id(write_client, terms={"minimum_spend": "500", "trial": {"ends_on": "2026-03-01"}})
    amend = f"{API}/contracts/{pk}/amendments"
    kept = write_client.post(amend, {"effective_from": "2026-05-01", "reason": "seats", "terms": {}}, format="json")
    assert kept.status_code == 201, kept.json()
    body = {"effective_from": "2026-06-01", "reason": "no minimum", "terms": {"minimum_spend": None, "trial": None}}
    removed = write_client.post(amend, body, format="json")
    assert removed.status_code == 201, removed.json()
    versions = {v["number"]: v["terms"] for v in write_client.get(amend).json()}
    assert (versions[2]["minimum_spend"], versions[2]["trial"]["ends_on"]) == ("500", "2026-03-01")
    assert (versions[3]["minimum_spend"], versions[3]["trial"]) == (None, None)


def test_an_amendment_is_refused_naming_the_field_and_changes_nothing(write_client, card, acme):
    pk = signed_id(write_client, terms={"minimum_spend": "500"})
    good = {"effective_from": "2026-06-01", "reason": "renewal", "terms": {"minimum_spend": "800"}}
    refusals = [
        ({**good, "effective_from": "2026-01-01"}, "effective_from"),  # not after v1
        ({**good, "effective_from": "2025-06-01"}, "effective_from"),
        ({**good, "reason": "  "}, "reason"),
        ({k: v for k, v in good.items() if k != "reason"}, "reason"),
        ({**good, "terms": {"minimum_spend": "-1"}}, "terms.minimum_spend"),
        ({**good, "terms": {"minimum_spend": 800.0}}, "terms.minimum_spend"),
        ({**good, "terms": {"minimum": "800"}}, "terms.minimum"),
        ({**good, "terms": {"included_usage": [CREDITS_1000, CREDITS_1000]}}, "terms.included_usage.1"),
        ({**good, "terms": {"overrides": [{"kind": "discount", "discount_percent": "0"}]}},
         "terms.overrides.0.discount_percent"),
        ({**good, "number": 2}, "number"),
    ]  # fmt: skip
    for body, field in refusals:
        response = write_client.post(f"{API}/contracts/{pk}/amendments", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert field in response.json()["error"]["fields"], (body, response.json())
    assert ContractVersion.objects.filter(contract_id=pk).count() == 1
    v1 = write_client.get(f"{API}/contracts/{pk}/amendments").json()
    assert [v["terms"]["minimum_spend"] for v in v1] == ["500"]


def test_activate_end_and_their_conflicts(write_client, card, acme):
    pk = signed_id(write_client)
    assert write_client.post(f"{API}/contracts/{pk}/activate", {}, format="json").status_code == 200
    again = write_client.post(f"{API}/contracts/{pk}/activate", {}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "not_draft")

    early = write_client.post(f"{API}/contracts/{pk}/end", {"end_date": "2025-12-31", "reason": "x"}, format="json")
    assert (early.status_code, list(early.json()["error"]["fields"])) == (400, ["end_date"])
    no_reason = write_client.post(f"{API}/contracts/{pk}/end", {"end_date": "2026-12-01"}, format="json")
    assert (no_reason.status_code, list(no_reason.json()["error"]["fields"])) == (400, ["reason"])
    assert Contract.objects.get(pk=pk).status == ContractStatus.ACTIVE

    ended = write_client.post(
        f"{API}/contracts/{pk}/end", {"end_date": "2026-12-01", "reason": "churned"}, format="json"
    )
    assert ended.status_code == 200
    assert (ended.json()["status"], ended.json()["end_date"]) == ("ended", "2026-12-01")
    twice = write_client.post(f"{API}/contracts/{pk}/end", {"end_date": "2026-12-01", "reason": "x"}, format="json")
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_ended")
    amend = write_client.post(
        f"{API}/contracts/{pk}/amendments",
        {"effective_from": "2026-06-01", "reason": "too late", "terms": {}},
        format="json",
    )
    assert (amend.status_code, amend.json()["error"]["code"]) == (409, "contract_ended")
    assert ContractVersion.objects.filter(contract_id=pk).count() == 1


def test_a_retried_create_with_an_idempotency_key_signs_once(write_client, card, acme):
    first = write_client.post(f"{API}/contracts", SIGNED, format="json", HTTP_IDEMPOTENCY_KEY="sign-acme-1")
    retry = write_client.post(f"{API}/contracts", SIGNED, format="json", HTTP_IDEMPOTENCY_KEY="sign-acme-1")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Contract.objects.count() == 1


# --- permissions ----------------------------------------------------------------------------------------------------


def test_anonymous_callers_are_refused(anon_client, card, acme):
    assert anon_client.get(f"{API}/contracts").status_code == 401
    assert sign(anon_client).status_code == 401
    assert nothing_signed()


def test_a_read_key_reads_but_cannot_write(read_client, write_client, card, acme):
    pk = signed_id(write_client)
    assert read_client.get(f"{API}/contracts").json()["count"] == 1
    assert read_client.get(f"{API}/contracts/{pk}").status_code == 200
    assert read_client.get(f"{API}/contracts/{pk}/amendments").status_code == 200
    assert read_client.get(f"{API}/contracts/{pk}/subscriptions").status_code == 200

    refused = [
        sign(read_client),
        read_client.post(f"{API}/contracts/{pk}/activate", {}, format="json"),
        read_client.post(f"{API}/contracts/{pk}/end", {"end_date": "2026-06-01", "reason": "x"}, format="json"),
        read_client.post(
            f"{API}/contracts/{pk}/amendments",
            {"effective_from": "2026-06-01", "reason": "x", "terms": {"minimum_spend": "1"}},
            format="json",
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    contract = Contract.objects.get()
    assert (contract.status, contract.end_date, contract.versions.count()) == (ContractStatus.DRAFT, None, 1)


def test_an_ingest_key_cannot_read_contracts(ingest_client, write_client, card, acme):
    pk = signed_id(write_client)
    assert ingest_client.get(f"{API}/contracts").status_code == 403
    assert ingest_client.get(f"{API}/contracts/{pk}").status_code == 403
    assert ingest_client.get(f"{API}/contracts/{pk}/amendments").status_code == 403
    assert ingest_client.post(f"{API}/contracts/{pk}/preview", {}, format="json").status_code == 403


def test_a_staff_session_reads_and_writes(staff_client, card, acme):
    pk = signed_id(staff_client)
    assert staff_client.get(f"{API}/contracts/{pk}").json()["terms"]["created_by"] == "finance"
