"""Bad input through the catalog API: 400 naming the offending field in `error.fields`, and nothing changed."""

import datetime as dt
from decimal import Decimal

import pytest

from catalog.models import BillableMetric, Price, PriceTier, Product, RateCard, RateCardVersion
from catalog.services import rate_cards
from tests.catalog.factories import T0, per_unit, rate_card, seat_product, tokens_metric, usage_product

pytestmark = pytest.mark.django_db

PRICES = "/api/v1/rate-cards/standard/versions/1/prices"


def _refused(response, field: str) -> dict:
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert field in error["fields"], error
    return error


@pytest.fixture
def draft():
    """A USD card with an empty draft v1, a usage product (tokens by model) and a seat product."""
    version = rate_cards.rate_card_version_create(rate_card=rate_card(), effective_from=T0.date(), actor=None)
    usage_product(tokens_metric())
    seat_product()
    return version


def _tiers(*bounds, **extra):
    """Tiers from (start, up_to) pairs at 1 per unit."""
    return [{"start": start, "up_to": up_to, "unit_price": "1", **extra} for start, up_to in bounds]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # tiers: a gap, an overlap, a tier that ends where it starts, one that goes backwards, not from 0
        ({"model": "graduated", "tiers": _tiers(("0", "100"), ("150", None))}, "tiers.1.start"),
        ({"model": "graduated", "tiers": _tiers(("0", "100"), ("50", None))}, "tiers.1.start"),
        ({"model": "volume", "tiers": _tiers(("0", "100"), ("100", "100"), ("100", None))}, "tiers.1.up_to"),
        ({"model": "volume", "tiers": _tiers(("0", "100"), ("100", "50"))}, "tiers.1.up_to"),
        ({"model": "graduated", "tiers": _tiers(("10", None))}, "tiers.0.start"),
        ({"model": "graduated", "tiers": _tiers(("0", "100"))}, "tiers.0.up_to"),
        ({"model": "graduated", "tiers": []}, "tiers"),
        # negative, too precise, floats, not numbers
        ({"model": "per_unit", "unit_price": "-1"}, "unit_price"),
        ({"model": "graduated", "tiers": [{"start": "0", "up_to": None, "unit_price": "-0.1"}]}, "tiers.0.unit_price"),
        ({"model": "volume", "tiers": _tiers(("0", None), flat_fee="-5")}, "tiers.0.flat_fee"),
        ({"model": "flat", "flat_amount": "-100"}, "flat_amount"),
        ({"model": "per_unit", "unit_price": "0.0000000000001"}, "unit_price"),
        ({"model": "per_unit", "unit_price": 0.1}, "unit_price"),
        ({"model": "per_unit", "unit_price": "ten"}, "unit_price"),
        # a second currency in a USD card
        ({"model": "per_unit", "unit_price": "1", "currency": "EUR"}, "currency"),
        # fields the model does not take, or that it needs
        ({"model": "per_unit", "unit_price": "1", "flat_amount": "5"}, "flat_amount"),
        ({"model": "per_unit"}, "unit_price"),
        ({"model": "package", "package_size": "0", "package_price": "5"}, "package_size"),
        ({"model": "percentage", "percentage": "101"}, "percentage"),
        ({"model": "per_unit", "unit_price": "1", "minimum_charge": "10", "maximum_charge": "5"}, "minimum_charge"),
        ({"model": "median"}, "model"),
        # unknown fields, at the top and in a tier
        ({"model": "per_unit", "unit_price": "1", "colour": "red"}, "colour"),
        ({"model": "graduated", "tiers": _tiers(("0", None), colour="red")}, "tiers.0.colour"),
        # references
        ({"model": "per_unit", "unit_price": "1", "product": "nope"}, "product"),
        ({"model": "per_unit", "unit_price": "1", "group_key": "region", "group_value": "eu"}, "group_key"),
        ({"model": "per_unit", "unit_price": "1", "group_value": "eu"}, "group_value"),
    ],
)
def test_bad_prices_are_refused_naming_the_field(write_client, draft, body, field):
    response = write_client.post(PRICES, {"product": "ai-tokens", **body}, format="json")
    _refused(response, field)
    assert (Price.objects.count(), PriceTier.objects.count()) == (0, 0)


def test_a_percentage_needs_a_usage_product(write_client, draft):
    response = write_client.post(PRICES, {"product": "seat", "model": "percentage", "percentage": "2.9"}, format="json")
    _refused(response, "model")
    assert not Price.objects.exists()


def test_a_product_cannot_be_priced_twice_in_a_version(write_client, draft):
    assert (
        write_client.post(
            PRICES, {"product": "seat", "model": "per_unit", "unit_price": "30"}, format="json"
        ).status_code
        == 201
    )
    again = write_client.post(PRICES, {"product": "seat", "model": "per_unit", "unit_price": "25"}, format="json")
    assert _refused(again, "product")["code"] == "duplicate_price"
    assert [p.unit_price for p in Price.objects.all()] == [30]


def test_a_dimensional_product_keeps_one_group_key(write_client, draft):
    def price(key, value):
        body = {"product": "ai-tokens", "model": "per_unit", "unit_price": "1", "group_key": key, "group_value": value}
        return write_client.post(PRICES, body, format="json")

    assert price("model", "small").status_code == 201
    _refused(price("", ""), "group_key")
    assert Price.objects.count() == 1


def test_a_bad_replacement_leaves_the_price_as_it_was(write_client, draft):
    price = rate_cards.price_set(
        version=draft,
        product=Product.objects.get(code="ai-tokens"),
        values={"model": "graduated"},
        tiers=[{"start": 0, "up_to": None, "unit_price": 1}],
        actor=None,
    )
    url = f"{PRICES}/{price.pk}"
    gap = {"model": "graduated", "tiers": _tiers(("0", "100"), ("200", None)), "reason": "x"}
    _refused(write_client.put(url, gap, format="json"), "tiers.1.start")
    _refused(write_client.put(url, {"model": "graduated", "product": "seat", "reason": "x"}, format="json"), "product")
    assert [(t.start, t.up_to) for t in PriceTier.objects.all()] == [(0, None)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"aggregation": "sum"}, "property"),
        ({"aggregation": "count", "property": "tokens"}, "property"),
        ({"aggregation": "median", "property": "x"}, "aggregation"),
        ({"aggregation": "sum", "property": "bad name"}, "property"),
        ({"aggregation": "time_weighted_sum", "property": "gb"}, "time_unit"),
        ({"aggregation": "sum", "property": "x", "time_unit": "hour"}, "time_unit"),
        ({"aggregation": "count", "filters": [{"property": "region", "operator": "like", "value": "eu"}]},
         "filters.0.operator"),
        ({"aggregation": "count", "filters": [{"property": "region", "operator": "in", "value": "eu"}]},
         "filters.0.value"),
        ({"aggregation": "count", "filters": [{"property": "region", "colour": "red"}]}, "filters.0.colour"),
        ({"aggregation": "count", "group_by": ["model", "model"]}, "group_by"),
        ({"aggregation": "count", "event_type": "has spaces"}, "event_type"),
        ({"aggregation": "count", "code": "Not A Code"}, "code"),
        ({"aggregation": "count", "name": " "}, "name"),
        ({"aggregation": "count", "colour": "red"}, "colour"),
    ],
)  # fmt: skip
def test_bad_metric_definitions_are_refused_naming_the_field(write_client, fields, field):
    body = {"code": "m", "name": "M", "event_type": "api.call", **fields}
    _refused(write_client.post("/api/v1/metrics", body, format="json"), field)
    assert not BillableMetric.objects.exists()


def test_a_metric_code_is_taken_once(write_client):
    body = {"code": "calls", "name": "Calls", "event_type": "api.call", "aggregation": "count"}
    assert write_client.post("/api/v1/metrics", body, format="json").status_code == 201
    assert _refused(write_client.post("/api/v1/metrics", body, format="json"), "code")["code"] == "duplicate"
    assert BillableMetric.objects.count() == 1


def test_a_bad_metric_change_changes_nothing(write_client):
    tokens_metric()
    response = write_client.patch(
        "/api/v1/metrics/tokens", {"aggregation": "count", "reason": "count calls instead"}, format="json"
    )
    _refused(response, "property")  # a count takes no property, and tokens keeps its "tokens"
    assert BillableMetric.objects.get().aggregation == "sum"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "usage"}, "metric"),
        ({"kind": "usage", "metric": "nope"}, "metric"),
        ({"kind": "subscription", "metric": "tokens"}, "metric"),
        ({"kind": "usage", "metric": "tokens", "billing_timing": "in_advance"}, "billing_timing"),
        ({"kind": "one_time", "billing_timing": "in_arrears"}, "billing_timing"),
        ({"kind": "gadget"}, "kind"),
        ({"kind": "subscription", "code": "seat"}, "code"),
        ({"kind": "subscription", "is_active": False}, "is_active"),
    ],
)
def test_bad_products_are_refused_naming_the_field(write_client, body, field):
    tokens_metric()
    seat_product()
    _refused(write_client.post("/api/v1/products", {"code": "p", "name": "P", **body}, format="json"), field)
    assert list(Product.objects.values_list("code", flat=True)) == ["seat"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "USD", "code": "standard"}, "code"),
        ({"currency": "USD", "name": ""}, "name"),
    ],
)
def test_bad_rate_cards_are_refused_naming_the_field(write_client, body, field):
    rate_card()
    _refused(write_client.post("/api/v1/rate-cards", {"code": "new", "name": "New", **body}, format="json"), field)
    assert RateCard.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"effective_from": "2026-13-01"}, "effective_from"),
        ({}, "effective_from"),
        ({"effective_from": "2027-01-01", "based_on": 7}, "based_on"),
        ({"effective_from": "2027-01-01", "status": "active"}, "status"),
    ],
)
def test_bad_versions_are_refused_naming_the_field(write_client, draft, body, field):
    _refused(write_client.post("/api/v1/rate-cards/standard/versions", body, format="json"), field)
    assert RateCardVersion.objects.count() == 1


def test_activation_refuses_an_empty_or_earlier_version(write_client, draft):
    empty = write_client.post("/api/v1/rate-cards/standard/versions/1/activate", {}, format="json")
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "no_prices")
    rate_cards.price_set(version=draft, product=seat_product("seat-2"), values=per_unit("30"), actor=None)
    rate_cards.rate_card_version_activate(version=draft, actor=None, as_of=T0)
    rate_cards.rate_card_version_create(rate_card=draft.rate_card, effective_from=dt.date(2026, 10, 1), actor=None)
    earlier = write_client.post("/api/v1/rate-cards/standard/versions/2/activate", {}, format="json")
    assert _refused(earlier, "effective_from")["code"] == "effective_date_not_after_active"
    assert RateCardVersion.objects.get(number=2).status == "draft"


@pytest.fixture
def priced(draft):
    tokens = Product.objects.get(code="ai-tokens")
    rate_cards.price_set(version=draft, product=Product.objects.get(code="seat"), values=per_unit("30"), actor=None)
    for value, unit_price in (("small", "0.000002"), ("", "0.00001")):
        rate_cards.price_set(
            version=draft,
            product=tokens,
            values=per_unit(unit_price),
            group_key="model",
            group_value=value,
            actor=None,
        )
    return draft


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"seat": "1", "gadget": "1"}, "usage"),
        ({"seat": 1.5, "ai-tokens": {}}, "usage.seat"),
        ({"seat": "-1", "ai-tokens": {}}, "usage.seat"),
        ({"seat": "lots", "ai-tokens": {}}, "usage.seat"),
        ({"seat": {"a": "1"}, "ai-tokens": {}}, "usage.seat"),
        ({"seat": "1", "ai-tokens": "100"}, "usage.ai-tokens"),
        ({"seat": "1", "ai-tokens": {"small": "-5"}}, "usage.ai-tokens.small"),
        ({"seat": "1", "ai-tokens": {"small": {"x": "1"}}}, "usage.ai-tokens.small"),
        ({"seat": "1e40", "ai-tokens": {}}, "usage.seat"),
        ({"seat": ["1", 0.5], "ai-tokens": {}}, "usage.seat"),
        ("12", "usage"),
    ],
)
def test_bad_preview_usage_is_refused_naming_the_field(write_client, priced, usage, field):
    _refused(
        write_client.post("/api/v1/rate-cards/standard/versions/1/preview", {"usage": usage}, format="json"), field
    )


def test_preview_of_per_event_clamps_needs_each_events_amount(write_client, draft):
    payments = usage_product(tokens_metric("payment-volume"), code="payments")
    rate_cards.price_set(
        version=draft,
        product=payments,
        values={"model": "percentage", "percentage": Decimal(3), "min_per_event": Decimal("0.5")},
        actor=None,
    )
    url = "/api/v1/rate-cards/standard/versions/1/preview"
    total_only = write_client.post(url, {"usage": {"payments": "100"}}, format="json")
    assert _refused(total_only, "usage")["code"] == "cannot_rate"
    # 10 x 3% = 0.30, raised to 0.50; 90 x 3% = 2.70.
    per_event = write_client.post(url, {"usage": {"payments": ["10", "90"]}}, format="json")
    assert per_event.status_code == 200 and per_event.json()["total"] == "3.20"
