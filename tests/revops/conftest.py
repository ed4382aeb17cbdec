"""Approval test data: a USD card (seats at 40, AI credits at 0.01), Acme following it with 10 seats and 1,000
credits included a month, 5,000 credits used in October 2026; a maker and two checkers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Product
from catalog.services import rate_cards
from revops.roles import FINANCE, REVOPS
from tests.billing.conftest import contract  # noqa: F401 (the fixture the approval world builds on)
from tests.revops.approval_support import make_approver, role
from usage.services import usage_events_ingest

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
def priced(contract):  # noqa: F811 (pytest passes the imported fixture)
    """The billing tests' world (tests/billing/conftest.py) with October's usage."""
    card = contract.rate_card
    v1 = card.versions.get(number=1)
    seat, credits = Product.objects.get(code="seat"), Product.objects.get(code="credits")
    customer = contract.customer
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
