"""Pricing guardrails: a price below its product's floor, a price moving too far against the version in effect,
tiers with gaps, a currency other than the card's. Each refusal names the field and changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Price
from catalog.services import products, rate_cards
from catalog.services.approvals import rate_card_version_activation_propose
from contracts.models import Customer
from contracts.services import contracts as contract_services
from revops.approvals.models import GuardrailMode
from revops.approvals.policy import policy_get
from revops.errors import ValidationError
from tests.catalog.factories import T0, per_unit, rate_card, seat_product, tokens_metric, usage_product


@pytest.fixture
def maker(db):
    return get_user_model().objects.create_user(username="maker", is_staff=True)


@pytest.fixture
def seat(db):
    product = seat_product()
    return products.product_update(product=product, price_floor=D(10), actor=None, reason="floor")


@pytest.fixture
def card(db):
    return rate_card()


def draft_of(card, day=dt.date(2026, 12, 1)):
    return rate_cards.rate_card_version_create(rate_card=card, effective_from=day, actor=None)


def test_a_price_below_the_floor_is_refused_naming_the_field(card, seat):
    version = draft_of(card)
    with pytest.raises(ValidationError) as refused:
        rate_cards.price_set(version=version, product=seat, values=per_unit("9.99"), actor=None)
    assert refused.value.code == "below_price_floor"
    assert refused.value.fields == {"unit_price": ["9.99 is below seat's price floor of 10"]}
    assert not Price.objects.exists()
    rate_cards.price_set(version=version, product=seat, values=per_unit("10"), actor=None)  # at the floor: fine


def test_the_floor_bounds_every_paid_tier_and_package_prices_per_unit(card, seat):
    version = draft_of(card)
    tiers = [
        {"start": D(0), "up_to": D(5), "unit_price": D(0)},  # an allowance before the last tier: not a price
        {"start": D(5), "up_to": D(50), "unit_price": D(12)},
        {"start": D(50), "up_to": None, "unit_price": D(8)},
    ]
    with pytest.raises(ValidationError) as refused:
        rate_cards.price_set(version=version, product=seat, values={"model": "graduated"}, tiers=tiers, actor=None)
    assert refused.value.fields == {"tiers.2.unit_price": ["8 is below seat's price floor of 10"]}
    package = {"model": "package", "package_size": D(10), "package_price": D(90)}
    with pytest.raises(ValidationError) as refused:
        rate_cards.price_set(version=version, product=seat, values=package, actor=None)
    assert refused.value.fields == {"package_price": ["9 per unit is below seat's price floor of 10"]}


def test_a_floor_raised_after_the_price_was_set_stops_the_activation(card, maker):
    seat = seat_product()
    version = draft_of(card)
    rate_cards.price_set(version=version, product=seat, values=per_unit("20"), actor=None)
    products.product_update(product=seat, price_floor=D(25), actor=None, reason="floor")
    with pytest.raises(ValidationError) as refused:
        rate_card_version_activation_propose(version=version, actor=maker, as_of=T0, reason="launch")
    assert refused.value.fields == {"seat.unit_price": ["20 is below seat's price floor of 25"]}


def test_a_negative_floor_is_refused(db):
    with pytest.raises(ValidationError) as refused:
        products.product_update(product=seat_product(), price_floor=D(-1), actor=None, reason="x")
    assert refused.value.fields == {"price_floor": ["a price floor cannot be negative"]}


@pytest.fixture
def in_effect(card, seat):
    v1 = draft_of(card, dt.date(2026, 1, 1))
    rate_cards.price_set(version=v1, product=seat, values=per_unit("40"), actor=None)
    return rate_cards.rate_card_version_activate(version=v1, actor=None, as_of=T0)


def test_a_price_change_within_the_limit_needs_one_approver(card, seat, in_effect, maker):
    v2 = draft_of(card)
    rate_cards.price_set(version=v2, product=seat, values=per_unit("50"), replace=True, actor=None)  # +25%
    request = rate_card_version_activation_propose(version=v2, actor=maker, as_of=T0, reason="2027")
    assert (request.approvers_required, request.escalation) == (1, "")


def test_a_larger_price_change_escalates_to_two_approvers(card, seat, in_effect, maker):
    v2 = draft_of(card)
    rate_cards.price_set(version=v2, product=seat, values=per_unit("50.01"), replace=True, actor=None)
    request = rate_card_version_activation_propose(version=v2, actor=maker, as_of=T0, reason="2027")
    assert request.approvers_required == 2
    assert request.escalation == (
        "price change above the limit, two approvers needed: seat moves 25.03% against v1 (the limit is 25%)"
    )


def test_or_is_blocked_when_the_policy_says_so(card, seat, in_effect, maker):
    policy = policy_get()
    policy.guardrail_mode = GuardrailMode.BLOCK
    policy.save()
    v2 = draft_of(card)
    rate_cards.price_set(version=v2, product=seat, values=per_unit("20"), replace=True, actor=None)  # -50%
    with pytest.raises(ValidationError) as blocked:
        rate_card_version_activation_propose(version=v2, actor=maker, as_of=T0, reason="sale")
    assert blocked.value.code == "price_change_too_large"
    assert blocked.value.fields == {
        "prices": ["a price changes more than the policy allows: seat moves -50% against v1 (the limit is 25%)"]
    }
    v2.refresh_from_db()
    assert v2.status == "draft"


def test_tiers_with_a_gap_are_refused_naming_the_tier(card):
    product = usage_product(tokens_metric())
    tiers = [
        {"start": D(0), "up_to": D(1000), "unit_price": D("0.1")},
        {"start": D(1500), "up_to": None, "unit_price": D("0.05")},
    ]
    with pytest.raises(ValidationError) as refused:
        rate_cards.price_set(
            version=draft_of(card), product=product, values={"model": "graduated"}, tiers=tiers, actor=None
        )
    assert refused.value.fields == {"tiers.1.start": ["tier 2 starts at 1,500 but tier 1 ends at 1,000 (a gap)"]}
    assert not Price.objects.exists()


def test_a_price_in_another_currency_is_refused(card):
    with pytest.raises(ValidationError) as refused:
        rate_cards.price_set(
            version=draft_of(card), product=seat_product(), values={**per_unit("40"), "currency": "EUR"}, actor=None
        )
    assert refused.value.fields == {"currency": ["this rate card is in USD; one version cannot mix currencies (EUR)"]}


def test_a_contract_in_another_currency_than_its_card_is_refused(card, in_effect):
    customer = Customer.objects.create(external_id="emea", name="EMEA", currency="EUR")
    with pytest.raises(ValidationError) as refused:
        contract_services.contract_create(customer=customer, rate_card=card, start_date=dt.date(2026, 1, 1), actor=None)
    assert refused.value.code == "currency_mismatch"
    assert list(refused.value.fields) == ["rate_card"]


def test_the_floor_is_set_over_the_api(write_client, seat):
    response = write_client.patch("/api/v1/products/seat", {"price_floor": "12.5", "reason": "floor"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["price_floor"] == "12.500000000000"
    refused = write_client.patch("/api/v1/products/seat", {"price_floor": "-1", "reason": "x"}, format="json")
    assert refused.status_code == 400 and "price_floor" in refused.json()["error"]["fields"]
