"""The billing tests' contract: USD, 10 seats at 40 and AI credits at 0.01 with 1,000 included a month."""

import datetime as dt
from decimal import Decimal as D

import pytest

from catalog.services import metrics, products, rate_cards
from contracts.models import Customer
from contracts.services import contracts as svc
from tests.billing.support import T0
from usage import rollups


@pytest.fixture
def contract(db):
    credits_metric = metrics.metric_create(
        code="credits", name="Credits", event_type="credits.used", aggregation="sum", property="credits", actor=None
    )
    rollups.rollups_build(metric=credits_metric, as_of=T0)
    seat = products.product_create(code="seat", name="Seat", kind="subscription", actor=None)
    credits = products.product_create(
        code="credits", name="AI credits", kind="usage", metric=credits_metric, actor=None
    )
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    rate_cards.price_set(version=version, product=seat, values={"model": "per_unit", "unit_price": D(40)}, actor=None)
    rate_cards.price_set(
        version=version, product=credits, values={"model": "per_unit", "unit_price": D("0.01")}, actor=None
    )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
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
    return contract


from tests.billing.webhook_receiver import webhook_endpoint, webhook_receiver  # noqa: E402,F401  (webhook fixtures)
