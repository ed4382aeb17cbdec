"""A period-close chunk reads terms, prices and usage once for all its contracts (contracts/prefetch.py):
what it reads must be what each contract reads alone, groups, deltas, amendments and timezones included."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.services import metrics, products, rate_cards
from contracts.models import Customer
from contracts.prefetch import contracts_prefetched
from contracts.selectors import contract_preview
from contracts.services import contracts as svc
from revops.periods import Period
from tests.billing.support import T0
from usage import rollups
from usage.selectors import contract_usage_quantities
from usage.services import usage_events_ingest

pytestmark = pytest.mark.django_db
OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))


@pytest.fixture
def contracts():
    tokens_metric = metrics.metric_create(
        code="tokens", name="Tokens", event_type="llm", aggregation="sum", property="tokens", group_by=["model"],
        actor=None,
    )  # fmt: skip
    peak_metric = metrics.metric_create(
        code="peak", name="Peak", event_type="gpu", aggregation="max", property="gpus", actor=None
    )
    calls_metric = metrics.metric_create(code="calls", name="Calls", event_type="call", aggregation="count", actor=None)
    for metric in (tokens_metric, peak_metric, calls_metric):
        rollups.rollups_build(metric=metric, as_of=T0)
    seat = products.product_create(code="seat", name="Seat", kind="subscription", actor=None)
    tokens = products.product_create(code="tokens", name="Tokens", kind="usage", metric=tokens_metric, actor=None)
    peak = products.product_create(code="peak", name="GPUs", kind="usage", metric=peak_metric, actor=None)
    calls = products.product_create(code="calls", name="Calls", kind="usage", metric=calls_metric, actor=None)
    card = rate_cards.rate_card_create(code="mixed", name="Mixed", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    price = rate_cards.price_set
    price(version=version, product=seat, values={"model": "per_unit", "unit_price": D(10)}, actor=None)
    price(version=version, product=peak, values={"model": "per_unit", "unit_price": D(7)}, actor=None)
    price(
        version=version, product=calls, values={"model": "graduated"}, actor=None,
        tiers=[{"start": D(0), "up_to": D(2), "unit_price": D(1)},
               {"start": D(2), "up_to": None, "unit_price": D("0.5")}],
    )  # fmt: skip
    price(version=version, product=tokens, values={"model": "per_unit", "unit_price": D("0.01")}, group_key="model",
          actor=None)  # fmt: skip
    price(version=version, product=tokens, values={"model": "per_unit", "unit_price": D("0.03")}, group_key="model",
          group_value="large", actor=None)  # fmt: skip
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    made = []
    for index, timezone in enumerate(["UTC", "Europe/Berlin", "America/New_York"]):
        customer = Customer.objects.create(
            external_id=f"m{index}", name=f"M {index}", currency="USD", timezone=timezone
        )
        contract = svc.contract_create(
            customer=customer, rate_card=card, start_date=dt.date(2026, 9, 1), actor=None,
            subscriptions=[(seat, D(index + 1))], terms=svc.Terms(included_usage=[(tokens, D(100))]),
        )  # fmt: skip
        svc.contract_activate(contract=contract, actor=None)
        # From 15 October the contract has a minimum spend and a discount: the period starts under the old terms.
        svc.contract_amend(
            contract=contract, effective_from=dt.date(2026, 10, 15), actor=None, reason="renewal",
            terms=svc.Terms(minimum_spend=D(500), overrides=[svc.OverrideSpec(kind="discount", discount_percent=D(5))]),
        )  # fmt: skip
        events = []
        for n in range(12):
            at = dt.datetime(2026, 10, 1 + n * 2, n, 30, tzinfo=dt.UTC)
            events += [
                {"transaction_id": f"{index}-t{n}", "customer": customer.external_id, "event_type": "llm",
                 "timestamp": at.isoformat(),
                 "properties": {"tokens": 10 * n + index, "model": ["small", "large"][n % 2]}},
                {"transaction_id": f"{index}-g{n}", "customer": customer.external_id, "event_type": "gpu",
                 "timestamp": at.isoformat(), "properties": {"gpus": (n * 7 + index) % 9}},
                {"transaction_id": f"{index}-c{n}", "customer": customer.external_id, "event_type": "call",
                 "timestamp": at.isoformat(), "properties": {}},
            ]  # fmt: skip
        result = usage_events_ingest(events=events, received_at=dt.datetime(2026, 10, 31, tzinfo=dt.UTC))
        assert result.count("accepted") == 36
        made.append(contract)
    return made


def read(contract) -> tuple:
    usage = contract_usage_quantities(contract, OCTOBER)
    lines = [(p.description, p.amount) for p in contract_preview(contract=contract, period=OCTOBER, usage=usage)]
    return usage, lines


def test_a_batch_reads_what_each_contract_reads_alone(contracts):
    alone = [read(c) for c in contracts]
    # Half the events were folded into compacted rollups, the rest are still deltas: both are read.
    rollups.rollups_compact(limit=20)
    with CaptureQueriesContext(connection) as batch_queries, contracts_prefetched(contracts):
        together = [read(c) for c in contracts]
    assert together == alone
    assert alone[0][0]["tokens"] == {"small": D(300), "large": D(360)}
    assert alone[1][0]["peak"] == D(8) and alone[0][0]["calls"] == D(12)
    with CaptureQueriesContext(connection) as single_queries:
        read(contracts[0])
    # the first contract of a batch pays for the batch; each further one reads (almost) nothing
    assert len(batch_queries) < len(single_queries) * 2


def test_a_batch_keeps_list_prices_apart_from_contract_prices(contracts):
    """Discount lines price the period at list and at contract prices: the batch must not hand one for the other."""
    november = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))  # under the 5% discount from 15 October

    def both(contract) -> list[list[D]]:
        return [
            [line.amount for line in contract_preview(contract=contract, period=november, usage={}, list_prices=listed)]
            for listed in (False, True)
        ]

    alone = [both(c) for c in contracts]
    assert alone[0][0] != alone[0][1]
    with contracts_prefetched(contracts):
        assert [both(c) for c in contracts] == alone
