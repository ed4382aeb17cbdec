"""Catalog services: metrics, products, versioned rate cards and their prices, through the service layer."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from catalog import selectors
from catalog.models import Price, PriceTier, RateCardVersion
from catalog.services import metrics, products, rate_cards
from revops.errors import Conflict, ValidationError
from tests.catalog.factories import (
    T0,
    graduated_tiers,
    per_unit,
    rate_card,
    seat_product,
    tokens_metric,
    usage_product,
)

pytestmark = pytest.mark.django_db
D = Decimal


def _active_card():
    card = rate_card()
    product = usage_product(tokens_metric())
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 11, 1), actor=None)
    price = rate_cards.price_set(
        version=version, product=product, values={"model": "graduated"}, tiers=graduated_tiers(), actor=None
    )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    return card, product, version, price


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"aggregation": "sum"}, "property"),
        ({"aggregation": "count", "property": "tokens"}, "property"),
        ({"aggregation": "median", "property": "x"}, "aggregation"),
        ({"aggregation": "sum", "property": "bad name"}, "property"),
        ({"aggregation": "time_weighted_sum", "property": "gb"}, "time_unit"),
        ({"aggregation": "sum", "property": "x", "time_unit": "hour"}, "time_unit"),
        (
            {"aggregation": "count", "filters": [{"property": "region", "operator": "like", "value": "eu"}]},
            "filters.0.operator",
        ),
        (
            {"aggregation": "count", "filters": [{"property": "region", "operator": "in", "value": "eu"}]},
            "filters.0.value",
        ),
        ({"aggregation": "count", "group_by": ["model", "model"]}, "group_by"),
    ],
)
def test_bad_metric_definitions_are_refused_with_the_field(fields, bad_field):
    with pytest.raises(ValidationError) as excinfo:
        metrics.metric_create(code="m", name="M", event_type="api.call", actor=None, **fields)
    assert bad_field in excinfo.value.fields
    from catalog.models import BillableMetric

    assert not BillableMetric.objects.exists()


def test_usage_product_needs_a_metric_and_bills_in_arrears():
    with pytest.raises(ValidationError) as excinfo:
        products.product_create(code="p", name="P", kind="usage", actor=None)
    assert "metric" in excinfo.value.fields
    metric = tokens_metric()
    with pytest.raises(ValidationError) as excinfo:
        products.product_create(
            code="p", name="P", kind="usage", metric=metric, billing_timing="in_advance", actor=None
        )
    assert "billing_timing" in excinfo.value.fields
    with pytest.raises(ValidationError):
        products.product_create(code="p", name="P", kind="subscription", metric=metric, actor=None)
    assert usage_product(metric).billing_timing == "in_arrears"
    assert seat_product().billing_timing == "in_advance"


def test_activation_freezes_the_version_in_services_and_in_the_database():
    _, product, version, price = _active_card()
    version.refresh_from_db()
    assert version.status == "active" and version.activated_at == T0
    with pytest.raises(Conflict) as excinfo:
        rate_cards.price_set(version=version, product=product, values=per_unit("1"), replace=True, actor=None)
    assert excinfo.value.code == "version_not_draft"
    with pytest.raises(Conflict):
        rate_cards.price_delete(price=price, actor=None)
    # Even a raw UPDATE bypassing the services is refused by PostgreSQL.
    for statement in (
        lambda: Price.objects.filter(pk=price.pk).update(unit_price=D("9")),
        lambda: PriceTier.objects.filter(price=price).update(unit_price=D("9")),
        lambda: RateCardVersion.objects.filter(pk=version.pk).update(effective_from=dt.date(2027, 1, 1)),
        lambda: PriceTier.objects.create(price=price, start=D(5000), unit_price=D(1)),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            statement()
    assert PriceTier.objects.get(price=price, start=0).unit_price == D("0.10")


def test_a_new_version_copies_prices_and_takes_effect_on_its_date():
    card, product, v1, _ = _active_card()
    v2 = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2027, 1, 1), actor=None)
    assert v2.number == 2 and v2.based_on == v1 and v2.status == "draft"
    rate_cards.price_set(version=v2, product=product, values=per_unit("0.08"), replace=True, actor=None)
    rate_cards.rate_card_version_activate(version=v2, actor=None, as_of=T0)
    assert selectors.version_effective_on(rate_card=card, day=dt.date(2026, 10, 31)) is None
    assert selectors.version_effective_on(rate_card=card, day=dt.date(2026, 12, 31)) == v1
    assert selectors.version_effective_on(rate_card=card, day=dt.date(2027, 1, 1)) == v2
    # v1 still holds its own prices: old versions stay forever.
    assert v1.prices.get().model == "graduated" and v2.prices.get().model == "per_unit"


def test_activation_needs_a_later_date_than_the_active_version():
    card, _, _, _ = _active_card()
    v2 = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 11, 1), actor=None)
    with pytest.raises(ValidationError) as excinfo:
        rate_cards.rate_card_version_activate(version=v2, actor=None, as_of=T0)
    assert excinfo.value.code == "effective_date_not_after_active"
    v2.refresh_from_db()
    assert v2.status == "draft"


def test_empty_version_cannot_be_activated():
    version = rate_cards.rate_card_version_create(
        rate_card=rate_card(), effective_from=dt.date(2026, 11, 1), actor=None
    )
    with pytest.raises(ValidationError) as excinfo:
        rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    assert excinfo.value.code == "no_prices"


@pytest.mark.parametrize(
    ("values", "tiers", "field"),
    [
        (
            {"model": "graduated"},
            [
                {"start": D(0), "up_to": D(100), "unit_price": D(1)},
                {"start": D(150), "up_to": None, "unit_price": D(1)},
            ],
            "tiers.1.start",
        ),
        (
            {"model": "graduated"},
            [
                {"start": D(0), "up_to": D(100), "unit_price": D(1)},
                {"start": D(50), "up_to": None, "unit_price": D(1)},
            ],
            "tiers.1.start",
        ),
        (
            {"model": "volume"},
            [
                {"start": D(0), "up_to": D(100), "unit_price": D(1)},
                {"start": D(100), "up_to": D(100), "unit_price": D(1)},
            ],
            "tiers.1.up_to",
        ),
        ({"model": "per_unit", "unit_price": D("-1")}, [], "unit_price"),
        ({"model": "per_unit", "unit_price": D("0.0000000000001")}, [], "unit_price"),
        ({"model": "per_unit", "unit_price": D(1), "currency": "EUR"}, [], "currency"),
        ({"model": "package", "package_size": D(0), "package_price": D(5)}, [], "package_size"),
        (
            {"model": "per_unit", "unit_price": D(1), "minimum_charge": D(10), "maximum_charge": D(5)},
            [],
            "minimum_charge",
        ),
    ],
)
def test_bad_prices_are_refused_naming_the_field(values, tiers, field):
    version = rate_cards.rate_card_version_create(
        rate_card=rate_card(), effective_from=dt.date(2026, 11, 1), actor=None
    )
    product = usage_product(tokens_metric())
    with pytest.raises(ValidationError) as excinfo:
        rate_cards.price_set(version=version, product=product, values=values, tiers=tiers, actor=None)
    assert any(f.startswith(field) for f in excinfo.value.fields), excinfo.value.fields
    assert not Price.objects.exists()


def test_a_product_cannot_be_priced_twice_in_one_version():
    version = rate_cards.rate_card_version_create(
        rate_card=rate_card(), effective_from=dt.date(2026, 11, 1), actor=None
    )
    product = seat_product()
    rate_cards.price_set(version=version, product=product, values=per_unit("30"), actor=None)
    with pytest.raises(ValidationError) as excinfo:
        rate_cards.price_set(version=version, product=product, values=per_unit("25"), actor=None)
    assert excinfo.value.code == "duplicate_price"
    assert version.prices.get().unit_price == D(30)


def test_percentage_needs_a_usage_product_and_group_key_must_be_the_metrics():
    version = rate_cards.rate_card_version_create(
        rate_card=rate_card(), effective_from=dt.date(2026, 11, 1), actor=None
    )
    with pytest.raises(ValidationError) as excinfo:
        rate_cards.price_set(
            version=version,
            product=seat_product(),
            values={"model": "percentage", "percentage": D("2.9")},
            actor=None,
        )
    assert "model" in excinfo.value.fields
    product = usage_product(tokens_metric())
    with pytest.raises(ValidationError) as excinfo:
        rate_cards.price_set(
            version=version,
            product=product,
            values=per_unit("1"),
            group_key="region",
            group_value="eu",
            actor=None,
        )
    assert "group_key" in excinfo.value.fields


def test_preview_rates_every_price_of_a_version_including_dimensional():
    card = rate_card()
    tokens = usage_product(tokens_metric())
    seats = seat_product()
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 11, 1), actor=None)
    rate_cards.price_set(version=version, product=seats, values=per_unit("30"), actor=None)
    rate_cards.price_set(
        version=version,
        product=tokens,
        values=per_unit("0.000002"),
        group_key="model",
        group_value="small",
        actor=None,
    )
    rate_cards.price_set(
        version=version,
        product=tokens,
        values=per_unit("0.00001"),
        group_key="model",
        group_value="",
        actor=None,
    )
    lines = selectors.version_preview(
        version=version, usage={"seat": D(12), "ai-tokens": {"small": D(1_234_567), "large": D(100_000)}}
    )
    amounts = {(p.product.code, p.line.group): p.line.rounded_amount() for p in lines}
    # 12 seats x 30 = 360; 1,234,567 x 0.000002 = 2.469134 -> 2.47; 100,000 x 0.00001 (default) = 1.00
    assert amounts == {
        ("ai-tokens", "large"): D("1.00"),
        ("ai-tokens", "small"): D("2.47"),
        ("seat", None): D("360.00"),
    }


def test_metric_definition_is_frozen_once_an_active_price_uses_it():
    _, product, _, _ = _active_card()
    with pytest.raises(Conflict) as excinfo:
        metrics.metric_update(metric=product.metric, actor=None, reason="x", property="output_tokens")
    assert excinfo.value.code == "metric_in_use"
    renamed = metrics.metric_update(metric=product.metric, actor=None, reason="clearer", name="LLM tokens")
    assert renamed.name == "LLM tokens" and renamed.property == "tokens"


def test_history_keeps_who_and_why_for_prices(staff_user):
    version = rate_cards.rate_card_version_create(
        rate_card=rate_card(), effective_from=dt.date(2026, 11, 1), actor=staff_user
    )
    product = seat_product()
    rate_cards.price_set(version=version, product=product, values=per_unit("30"), actor=staff_user, reason="list price")
    rate_cards.price_set(
        version=version,
        product=product,
        values=per_unit("28"),
        actor=staff_user,
        replace=True,
        reason="launch discount",
    )
    history = list(Price.history.order_by("history_id"))
    assert [(h.unit_price, h.history_change_reason, h.history_user) for h in history] == [
        (D(30), "list price", staff_user),
        (D(28), "launch discount", staff_user),
    ]


def test_tiers_sent_out_of_order_are_refused_not_reordered():
    version = rate_cards.rate_card_version_create(
        rate_card=rate_card(), effective_from=dt.date(2026, 11, 1), actor=None
    )
    tiers = list(reversed(graduated_tiers()))
    with pytest.raises(ValidationError) as excinfo:
        rate_cards.price_set(
            version=version,
            product=usage_product(tokens_metric()),
            values={"model": "graduated"},
            tiers=tiers,
            actor=None,
        )
    assert any(field.startswith("tiers.0") for field in excinfo.value.fields), excinfo.value.fields


def test_the_metric_code_preview_is_reserved():
    with pytest.raises(ValidationError) as excinfo:
        metrics.metric_create(code="preview", name="P", event_type="x", aggregation="count", actor=None)
    assert "code" in excinfo.value.fields


def test_activation_rechecks_that_a_dimensional_price_still_matches_its_metric():
    metric = tokens_metric()
    version = rate_cards.rate_card_version_create(
        rate_card=rate_card(), effective_from=dt.date(2026, 11, 1), actor=None
    )
    rate_cards.price_set(
        version=version,
        product=usage_product(metric),
        values=per_unit("1"),
        group_key="model",
        group_value="",
        actor=None,
    )
    metrics.metric_update(metric=metric, actor=None, reason="no longer split", group_by=[])
    with pytest.raises(ValidationError) as excinfo:
        rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    assert "ai-tokens.group_key" in excinfo.value.fields


def test_preview_bills_left_out_products_at_zero_whatever_their_shape():
    version = rate_cards.rate_card_version_create(
        rate_card=rate_card(), effective_from=dt.date(2026, 11, 1), actor=None
    )
    tokens = usage_product(tokens_metric())
    rate_cards.price_set(
        version=version, product=tokens, values=per_unit("1"), group_key="model", group_value="", actor=None
    )
    rate_cards.price_set(
        version=version, product=seat_product(), values={"model": "flat", "flat_amount": D(99)}, actor=None
    )
    lines = selectors.version_preview(version=version, usage={})
    assert [(p.product.code, p.line.rounded_amount()) for p in lines] == [("seat", D("99.00"))]
