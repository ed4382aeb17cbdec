"""GET /api/v1/customers/<id>/usage: the current period's quantities and cost, visible right after ingest."""

import datetime as dt
from decimal import Decimal as D

import pytest

from catalog.services import products, rate_cards
from revops import clock
from tests.usage.conftest import NOW, event

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced(token_metrics):
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 11, 1), actor=None)
    tokens = products.product_create(
        code="tok", name="Tokens", kind="usage", metric=token_metrics["tokens"], actor=None
    )
    calls = products.product_create(code="calls", name="Calls", kind="usage", metric=token_metrics["calls"], actor=None)
    rate_cards.price_set(
        version=version,
        product=tokens,
        values={"model": "per_unit", "unit_price": D("0.01")},
        group_key="model",
        group_value="large",
        actor=None,
    )
    rate_cards.price_set(
        version=version,
        product=tokens,
        values={"model": "per_unit", "unit_price": D("0.001")},
        group_key="model",
        group_value="",
        actor=None,
    )
    rate_cards.price_set(
        version=version,
        product=calls,
        values={"model": "per_unit", "unit_price": D("0.5"), "included_units": D(2)},
        actor=None,
    )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=NOW)
    return card


def test_events_are_visible_in_current_usage_with_their_cost(write_client, acme, priced):
    with clock.frozen_at(NOW):
        write_client.post(
            "/api/v1/events",
            [
                event("a", 1000, model="large"),
                event("b", 3000, model="small"),
                event("c", 500, model="small", user="u2"),
            ],
            format="json",
        )
        response = write_client.get("/api/v1/customers/acme/usage?rate_card=std")
    assert response.status_code == 200
    body = response.json()
    assert (body["period_start"], body["period_end"]) == ("2026-11-01", "2026-12-01")
    metrics = {m["code"]: m for m in body["metrics"]}
    assert metrics["tokens"]["quantity"] == "4500.000000000000"
    assert metrics["calls"]["quantity"] == "3"
    assert metrics["users"]["quantity"] == "2"
    lines = {(line["product"], line["group"]): line["amount"] for line in body["lines"]}
    # large: 1,000 x 0.01 = 10.00; small (default price): 3,500 x 0.001 = 3.50; calls: (3 - 2 included) x 0.5
    assert lines == {("tok", "large"): "10.00", ("tok", "small"): "3.50", ("calls", None): "0.50"}
    assert body["total"] == "14.00"


def test_period_turns_at_midnight_in_the_customers_timezone(write_client, acme, priced):
    acme.timezone = "America/New_York"
    acme.save()
    at = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC)  # still October 31st in New York
    with clock.frozen_at(at):
        response = write_client.get("/api/v1/customers/acme/usage")
    body = response.json()
    assert (body["period_start"], body["period_end"]) == ("2026-10-01", "2026-11-01")
    assert body["ends_at"] == "2026-11-01T04:00:00+00:00"


def test_unknown_customer_and_rate_card_are_404(read_client, acme):
    assert read_client.get("/api/v1/customers/nobody/usage").status_code == 404
    response = read_client.get("/api/v1/customers/acme/usage?rate_card=nope")
    assert response.status_code == 404


def test_ingest_only_keys_cannot_read_usage(ingest_client, acme):
    assert ingest_client.get("/api/v1/customers/acme/usage").status_code == 403


def test_a_customer_with_a_contract_is_priced_by_it(write_client, acme, priced, token_metrics):
    from catalog.models import Product
    from contracts.services import contracts as svc

    contract = svc.contract_create(
        customer=acme,
        rate_card=priced,
        start_date=dt.date(2026, 10, 15),
        actor=None,
        terms=svc.Terms(
            included_usage=[(Product.objects.get(code="calls"), D(10))],
            overrides=[svc.OverrideSpec("discount", None, discount_percent=D(50))],
        ),
    )
    svc.contract_activate(contract=contract, actor=None)
    with clock.frozen_at(NOW):
        write_client.post(
            "/api/v1/events", [event("a", 1000, model="large"), event("b", 1000, model="small")], format="json"
        )
        body = write_client.get("/api/v1/customers/acme/usage").json()
    # The contract's monthly periods start on the 15th; large 1,000 x 0.01 x 50% = 5.00,
    # small 1,000 x 0.001 x 50% = 0.50, calls: 2 within the 10 included = 0.00
    assert (body["period_start"], body["period_end"]) == ("2026-11-15", "2026-12-15")
    assert body["contract"] == contract.pk
    assert {(line["product"], line["group"]): line["amount"] for line in body["lines"]} == {
        ("tok", "large"): "5.00",
        ("tok", "small"): "0.50",
        ("calls", None): "0.00",
    }
