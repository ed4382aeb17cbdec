"""Approval test data: a USD card (seats at 40, AI credits at 0.01), Acme following it with 10 seats and 1,000
credits included a month, 5,000 credits used in October 2026; a maker and two checkers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model

from catalog.services import metrics, products, rate_cards
from contracts.models import Customer
from contracts.services import contracts as svc
from revops.roles import FINANCE, REVOPS
from tests.revops.approval_support import make_approver, role
from usage import rollups
from usage.services import usage_events_ingest

T0 = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)  # the last complete period is October


@pytest.fixture
def maker(db):
    """Proposes changes: RevOps (catalog, contracts) and Finance (invoices, credits), as the people who ask are."""
    user = get_user_model().objects.create_user(
        username="maker", password="pw-maker-123", is_staff=True, email="maker@example.com"
    )
    user.groups.add(role(REVOPS), role(FINANCE))
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def checker(db):
    return make_approver("checker")


@pytest.fixture
def checker2(db):
    return make_approver("checker-2")


@pytest.fixture
def priced(db):
    credits_metric = metrics.metric_create(
        code="credits", name="Credits", event_type="credits.used", aggregation="sum", property="credits", actor=None
    )
    rollups.rollups_build(metric=credits_metric, as_of=T0)
    seat = products.product_create(code="seat", name="Seat", kind="subscription", actor=None)
    credits = products.product_create(
        code="credits", name="AI credits", kind="usage", metric=credits_metric, actor=None
    )
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    v1 = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    rate_cards.price_set(version=v1, product=seat, values={"model": "per_unit", "unit_price": D(40)}, actor=None)
    rate_cards.price_set(version=v1, product=credits, values={"model": "per_unit", "unit_price": D("0.01")}, actor=None)
    rate_cards.rate_card_version_activate(version=v1, actor=None, as_of=T0)
    customer = Customer.objects.create(external_id="acme", name="Acme", currency="USD")
    contract = svc.contract_create(
        customer=customer,
        rate_card=card,
        start_date=dt.date(2026, 1, 1),
        actor=None,
        terms=svc.Terms(included_usage=[(credits, D(1000))]),
        subscriptions=[(seat, D(10))],
    )
    svc.contract_activate(contract=contract, actor=None)
    result = usage_events_ingest(
        events=[
            {
                "transaction_id": f"oct-{i}",
                "customer": "acme",
                "event_type": "credits.used",
                "timestamp": "2026-10-15T12:00:00+00:00",
                "properties": {"credits": 1000},
            }
            for i in range(5)
        ],
        received_at=dt.datetime(2026, 10, 16, tzinfo=dt.UTC),
    )
    assert result.count("accepted") == 5
    return {"card": card, "v1": v1, "seat": seat, "credits": credits, "contract": contract, "customer": customer}


@pytest.fixture
def draft(priced):
    """v2 from December: seats 44 (+10%), credits 0.012 (+20%), both within the 25% guardrail."""
    v2 = rate_cards.rate_card_version_create(rate_card=priced["card"], effective_from=dt.date(2026, 12, 1), actor=None)
    for product, values in [
        (priced["seat"], {"model": "per_unit", "unit_price": D(44)}),
        (priced["credits"], {"model": "per_unit", "unit_price": D("0.012")}),
    ]:
        rate_cards.price_set(version=v2, product=product, values=values, replace=True, actor=None)
    return v2
