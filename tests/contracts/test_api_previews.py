"""Subscription changes, plan changes and period previews through the API, with every amount worked out by hand.

The card (tests/contracts/test_api_contracts.py): seats 40, pro seats 70, platform fee 500, AI credits 0.01,
tokens 0.001 (large) or 0.0001 (any other model). November 2026 has 30 days.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from catalog.models import Product
from catalog.services import rate_cards
from contracts.models import SubscriptionChange
from revops import clock
from tests.contracts.test_api_contracts import API, NOW, make_card, make_customer, sign, signed_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(db):
    return make_card()


@pytest.fixture
def contract(write_client, card):
    """Active from 2026-01-01: 10 seats, 1,000 AI credits included every month."""
    make_customer()
    pk = signed_id(write_client)
    assert write_client.post(f"{API}/contracts/{pk}/activate", {}, format="json").status_code == 200
    return pk


def preview(client, pk, usage=None, **body):
    if usage is not None:
        body["usage"] = usage
    return client.post(f"{API}/contracts/{pk}/preview", body, format="json")


def amounts(response):
    assert response.status_code == 200, response.json()
    return [(line["product"], line["amount"]) for line in response.json()["lines"]]


def change(client, pk, **body):
    return client.post(
        f"{API}/contracts/{pk}/subscriptions", {"reason": "requested by the customer", **body}, format="json"
    )


def test_a_mid_period_seat_change_is_prorated_and_included_credits_come_off_usage(write_client, contract):
    added = change(write_client, contract, product="seat", quantity="16", effective_date="2026-11-21")
    assert added.status_code == 201, added.json()
    assert {k: added.json()[k] for k in ("product", "quantity", "effective_date", "timing", "created_by")} == {
        "product": "seat",
        "quantity": "16",
        "effective_date": "2026-11-21",
        "timing": "immediate",
        "created_by": "svc-product",
    }

    response = preview(write_client, contract, {"credits": "5000"}, period_start="2026-11-01")
    body = response.json()
    assert (body["period_start"], body["period_end"], body["currency"]) == ("2026-11-01", "2026-12-01", "USD")
    # 10 seats x 40 x 20/30 days = 266.666... -> 266.67; 16 seats x 40 x 10/30 = 213.333... -> 213.33
    # 5,000 credits - 1,000 included = 4,000 x 0.01 = 40.00; total 520.00
    assert amounts(response) == [("seat", "266.67"), ("seat", "213.33"), ("credits", "40.00")]
    assert body["total"] == "520.00"
    first_seats, _, credits = body["lines"]
    assert first_seats["description"] == "Seat: 10 x 2026-11-01 to 2026-11-21 (prorated 20/30 days)"
    assert credits == {
        "product": "credits",
        "group": None,
        "description": "AI credits",
        "amount": "40.00",
        "quantity": "5000",
        "included_quantity": "1000",
        "billable_quantity": "4000",
        "unit_price": "0.01",
        "breakdown": [
            {"description": "Included units (no charge)", "quantity": "1000", "unit_price": "0", "flat_fee": "0",
             "amount": "0", "tier": None},
            {"description": "Per unit", "quantity": "4000", "unit_price": "0.01", "flat_fee": "0", "amount": "40",
             "tier": None},
        ],
    }  # fmt: skip

    # The schedule, in order of effect.
    schedule = write_client.get(f"{API}/contracts/{contract}/subscriptions").json()
    assert [(s["product"], s["quantity"], s["effective_date"], s["reason"]) for s in schedule] == [
        ("seat", "10", "2026-01-01", "contract signed over the API"),
        ("seat", "16", "2026-11-21", "requested by the customer"),
    ]


def test_an_amendment_prices_the_periods_from_its_date(write_client, contract):
    change(write_client, contract, product="seat", quantity="16", effective_date="2026-11-21")
    write_client.post(
        f"{API}/contracts/{contract}/amendments",
        {
            "effective_from": "2026-12-01",
            "reason": "renewal",
            "terms": {"overrides": [{"kind": "discount", "product": "seat", "discount_percent": "25"}]},
        },
        format="json",
    )
    december = preview(write_client, contract, {"credits": "2000"}, period_start="2026-12-01")
    # 16 x 40 x 0.75 = 480.00; 2,000 - 1,000 included (carried over) = 1,000 x 0.01 = 10.00
    assert amounts(december) == [("seat", "480.00"), ("credits", "10.00")]
    assert december.json()["total"] == "490.00"
    november = preview(write_client, contract, {"credits": "2000"}, period_start="2026-11-01")
    # before the discount: 266.67 + 213.33 for the seats (as above), 10.00 for the credits
    assert amounts(november) == [("seat", "266.67"), ("seat", "213.33"), ("credits", "10.00")]


def test_the_default_period_is_the_one_containing_today(write_client, contract):
    with clock.frozen_at(NOW):
        response = preview(write_client, contract)
    assert (response.json()["period_start"], response.json()["period_end"]) == ("2026-11-01", "2026-12-01")
    assert amounts(response) == [("seat", "400.00")]  # 10 x 40, no usage given


def test_a_change_at_period_end_waits_for_the_next_period(write_client, contract):
    later = change(
        write_client, contract, product="seat", quantity="4", effective_date="2026-11-12", timing="period_end"
    )
    assert (later.status_code, later.json()["effective_date"], later.json()["timing"]) == (
        201,
        "2026-12-01",
        "period_end",
    )
    assert amounts(preview(write_client, contract, period_start="2026-11-01")) == [("seat", "400.00")]
    assert amounts(preview(write_client, contract, period_start="2026-12-01")) == [("seat", "160.00")]  # 4 x 40


def test_an_immediate_upgrade_prorates_both_plans(write_client, contract):
    response = write_client.post(
        f"{API}/contracts/{contract}/plan-changes",
        {"from_product": "seat", "to_product": "pro-seat", "quantity": "10", "on": "2026-11-16",
         "timing": "immediate", "reason": "upgrade to pro"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    old, new = response.json()["old"], response.json()["new"]
    assert [(c["product"], c["quantity"], c["effective_date"]) for c in (old, new)] == [
        ("seat", "0", "2026-11-16"),
        ("pro-seat", "10", "2026-11-16"),
    ]
    # 10 x 40 x 15/30 = 200.00 on the old plan; 10 x 70 x 15/30 = 350.00 on the new one
    assert sorted(amounts(preview(write_client, contract, period_start="2026-11-01"))) == [
        ("pro-seat", "350.00"),
        ("seat", "200.00"),
    ]
    assert amounts(preview(write_client, contract, period_start="2026-12-01")) == [("pro-seat", "700.00")]
    detail = write_client.get(f"{API}/contracts/{contract}", {"as_of": "2026-11-20"}).json()
    assert detail["subscriptions"] == [{"product": "pro-seat", "quantity": "10"}]  # seats at 0 are not listed


def test_a_minimum_spend_bills_the_shortfall_on_a_line_of_its_own(write_client, card):
    make_customer()
    pk = signed_id(write_client, terms={"minimum_spend": "1000"}, subscriptions=[{"product": "seat", "quantity": "5"}])
    response = preview(write_client, pk, {"credits": "12345"}, period_start="2026-11-01")
    # seats 5 x 40 = 200.00; credits 12,345 x 0.01 = 123.45; true-up 1,000 - 323.45 = 676.55
    assert amounts(response) == [("seat", "200.00"), ("credits", "123.45"), (None, "676.55")]
    true_up = response.json()["lines"][2]
    assert true_up == {
        "product": None,
        "group": None,
        "description": "Minimum spend true-up (minimum 1000.00)",
        "amount": "676.55",
        "quantity": None,
        "included_quantity": None,
        "billable_quantity": None,
        "unit_price": None,
        "breakdown": None,
    }
    assert response.json()["total"] == "1000.00"


def test_overrides_discount_multiply_and_replace_prices(write_client, card):
    make_customer()
    terms = {
        "overrides": [
            {"kind": "discount", "product": "seat", "discount_percent": "25"},
            {"kind": "multiplier", "product": None, "multiplier": "0.9"},  # the whole card, except seats
            {"kind": "replace", "product": "credits", "price": {"model": "graduated", "tiers": [
                {"start": "0", "up_to": "1000", "unit_price": "0"},
                {"start": "1000", "up_to": None, "unit_price": "0.02"},
            ]}},
        ]
    }  # fmt: skip
    subscriptions = [{"product": "seat", "quantity": "10"}, {"product": "platform", "quantity": "1"}]
    pk = signed_id(write_client, terms=terms, subscriptions=subscriptions)
    response = preview(write_client, pk, {"credits": "3000", "tokens": {"large": "10000"}}, period_start="2026-11-01")
    # seats: 10 x 40 x 0.75 = 300.00; platform: 500 x 0.9 = 450.00
    # credits: first 1,000 free, 2,000 x 0.02 = 40.00; tokens (large): 10,000 x 0.001 x 0.9 = 9.00
    assert sorted(amounts(response)) == [
        ("credits", "40.00"),
        ("platform", "450.00"),
        ("seat", "300.00"),
        ("tokens", "9.00"),
    ]
    assert response.json()["total"] == "799.00"


def test_a_shared_allowance_covers_the_dearest_model_first(write_client, card):
    make_customer()
    pk = signed_id(
        write_client, terms={"included_usage": [{"product": "tokens", "quantity": "15000"}]}, subscriptions=[]
    )
    response = preview(write_client, pk, {"tokens": {"large": "10000", "small": "20000"}}, period_start="2026-11-01")
    # 15,000 free: all 10,000 large (0.001) first, then 5,000 small; 15,000 small x 0.0001 = 1.50
    lines = response.json()["lines"]
    assert [(line["group"], line["included_quantity"], line["amount"]) for line in lines] == [
        ("large", "10000", "0.00"),
        ("small", "5000", "1.50"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"usage": {"credits": 5000.5}}, "usage.credits"),  # a float is not exact
        ({"usage": {"credits": "-1"}}, "usage.credits"),
        ({"usage": {"credits": "lots"}}, "usage.credits"),
        ({"usage": {"tokens": {"large": 10.5}}}, "usage.tokens.large"),
        ({"usage": {"nope": "1"}}, "usage.nope"),  # not priced for this contract
        ({"usage": {"seat": "5"}}, "usage.seat"),  # seats come from the subscription schedule
        ({"usage": ["credits"]}, "usage"),
        ({"period_start": "2026-11-02"}, "period_start"),  # not the first day of a period
        ({"period": "2026-11"}, "period"),
    ],
)
def test_a_bad_preview_is_refused_naming_the_field(write_client, contract, body, field):
    response = write_client.post(f"{API}/contracts/{contract}/preview", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"product": "seat", "quantity": "-1", "effective_date": "2026-11-21"}, "quantity"),
        ({"product": "seat", "quantity": 1.5, "effective_date": "2026-11-21"}, "quantity"),
        ({"product": "credits", "quantity": "1", "effective_date": "2026-11-21"}, "product"),  # a usage product
        ({"product": "nope", "quantity": "1", "effective_date": "2026-11-21"}, "product"),
        ({"product": "seat", "quantity": "1", "effective_date": "2025-11-21"}, "effective_date"),  # before the start
        ({"product": "seat", "quantity": "1", "effective_date": "2026-11-21", "timing": "someday"}, "timing"),
        ({"product": "seat", "quantity": "1", "effective_date": "2026-11-21", "reason": ""}, "reason"),
        ({"product": "seat", "quantity": "1", "effective_date": "2026-11-21", "seats": "1"}, "seats"),
    ],
)
def test_a_bad_subscription_change_is_refused_and_the_schedule_is_unchanged(write_client, contract, body, field):
    response = change(write_client, contract, **body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert SubscriptionChange.objects.filter(contract_id=contract).count() == 1


def test_a_subscription_change_after_the_contract_ends_is_refused(write_client, contract):
    write_client.post(f"{API}/contracts/{contract}/end", {"end_date": "2026-12-01", "reason": "churn"}, format="json")
    response = change(write_client, contract, product="seat", quantity="2", effective_date="2026-12-05")
    assert (response.status_code, list(response.json()["error"]["fields"])) == (400, ["effective_date"])
    assert SubscriptionChange.objects.filter(contract_id=contract).count() == 1


def test_a_plan_change_to_a_usage_product_is_refused_and_changes_nothing(write_client, contract):
    response = write_client.post(
        f"{API}/contracts/{contract}/plan-changes",
        {"from_product": "seat", "to_product": "credits", "quantity": "10", "on": "2026-11-16",
         "timing": "immediate", "reason": "x"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    # The service names its own `product` parameter, not to_product (see the report).
    assert response.json()["error"]["fields"].keys() & {"product", "to_product"}
    assert SubscriptionChange.objects.filter(contract_id=contract).count() == 1  # the seat change was rolled back


def test_a_read_key_can_preview_but_not_change_subscriptions(read_client, contract):
    assert amounts(preview(read_client, contract, period_start="2026-11-01")) == [("seat", "400.00")]
    refused = change(read_client, contract, product="seat", quantity="16", effective_date="2026-11-21")
    plan = read_client.post(
        f"{API}/contracts/{contract}/plan-changes",
        {"from_product": "seat", "to_product": "pro-seat", "quantity": "1", "on": "2026-11-16",
         "timing": "immediate", "reason": "x"},
        format="json",
    )  # fmt: skip
    assert (refused.status_code, plan.status_code) == (403, 403)
    assert SubscriptionChange.objects.filter(contract_id=contract).count() == 1


def test_anonymous_callers_cannot_preview_or_change(anon_client, contract):
    assert preview(anon_client, contract).status_code == 401
    assert change(anon_client, contract, product="seat", quantity="1", effective_date="2026-11-21").status_code == 401
    assert SubscriptionChange.objects.filter(contract_id=contract).count() == 1


# --- refusals and rounding that the selectors and services once got wrong -----------------------------------------


def test_groups_for_a_product_with_one_price_are_refused(write_client, contract):
    response = preview(write_client, contract, {"credits": {"large": "10"}}, period_start="2026-11-01")
    assert response.status_code == 400
    assert "usage.credits" in response.json()["error"]["fields"]


def test_a_replacement_price_that_cannot_rate_is_refused(write_client, card):
    make_customer()
    response = sign(
        write_client, terms={"overrides": [{"kind": "replace", "product": "seat", "price": {"model": "per_unit"}}]}
    )
    assert response.status_code == 400
    assert any(name.startswith("terms.overrides.0.price") for name in response.json()["error"]["fields"])


def test_a_fee_line_rounds_with_its_prices_rounding_mode(write_client, card):
    make_customer()
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2027, 1, 1), actor=None)
    seat = Product.objects.get(code="seat")
    rate_cards.price_set(
        version=version,
        product=seat,
        values={"model": "per_unit", "unit_price": D("0.125"), "rounding": "down"},
        replace=True,
        actor=None,
    )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    pk = signed_id(write_client, start_date="2027-01-01", subscriptions=[{"product": "seat", "quantity": "1"}])
    # 1 seat x 0.125 for the whole of January, rounded down: 0.12
    assert amounts(preview(write_client, pk, period_start="2027-01-01")) == [("seat", "0.12")]
