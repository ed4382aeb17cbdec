"""Moving contracts to another rate card version, previewed on each one's last period of real usage."""

import datetime as dt
from decimal import Decimal as D

import pytest

from catalog.models import Product
from catalog.services import products, rate_cards
from contracts.models import Contract
from contracts.services import contracts as svc
from contracts.services.migrations import contract_migrate, contract_migration_preview
from revops import clock
from revops.errors import ValidationError
from tests.revops.approval_support import approve_latest
from tests.usage.conftest import NOW
from usage.selectors import contract_usage_quantities
from usage.services import usage_events_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(acme, token_metrics):
    tokens = products.product_create(
        code="tok", name="Tokens", kind="usage", metric=token_metrics["tokens"], actor=None
    )
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    v1 = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    rate_cards.price_set(version=v1, product=tokens, values={"model": "per_unit", "unit_price": D("0.01")}, actor=None)
    rate_cards.rate_card_version_activate(version=v1, actor=None, as_of=NOW)
    v2 = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2027, 1, 1), actor=None)
    rate_cards.price_set(
        version=v2, product=tokens, values={"model": "per_unit", "unit_price": D("0.012")}, replace=True, actor=None
    )
    rate_cards.rate_card_version_activate(version=v2, actor=None, as_of=NOW)
    contract = svc.contract_create(
        customer=acme, rate_card=card, start_date=dt.date(2026, 1, 1), actor=None, pinned_version=v1
    )
    svc.contract_activate(contract=contract, actor=None)
    october = dt.datetime(2026, 10, 25, tzinfo=dt.UTC)  # in the last complete period (October)
    result = usage_events_ingest(
        events=[
            {
                "transaction_id": f"o{i}",
                "customer": "acme",
                "event_type": "llm.completion",
                "timestamp": october.isoformat(),
                "properties": {"tokens": 2500, "model": "small", "user": "u"},
            }
            for i in range(4)
        ],
        received_at=NOW,
    )
    assert result.count("accepted") == 4
    return contract, v2


def test_preview_prices_the_last_period_both_ways_and_changes_nothing(setup):
    contract, v2 = setup
    [impact] = contract_migration_preview(
        contracts=[contract], to_version=v2, today=NOW.date(), usage_for=contract_usage_quantities
    )
    # October: 10,000 tokens at 0.01 = 100.00 now; at 0.012 = 120.00 after: +20.00, +20.0%
    assert (impact.period.start, impact.before, impact.after) == (dt.date(2026, 10, 1), D("100.00"), D("120.00"))
    assert (impact.difference, impact.percent) == (D("20.00"), D("20.0"))
    contract.refresh_from_db()
    assert contract.pinned_version.number == 1


def test_migration_moves_all_contracts_with_history(setup, staff_user):
    contract, v2 = setup
    contract_migrate(contracts=[contract], to_version=v2, actor=staff_user, reason="2027 price list")
    contract.refresh_from_db()
    assert contract.pinned_version == v2
    latest = contract.history.latest()
    assert (latest.history_change_reason, latest.history_user) == ("2027 price list", staff_user)


def test_migration_needs_a_reason_and_a_matching_currency(setup):
    contract, v2 = setup
    with pytest.raises(ValidationError):
        contract_migrate(contracts=[contract], to_version=v2, actor=None, reason=" ")
    euro = rate_cards.rate_card_create(code="eur", name="Euro", currency="EUR", actor=None)
    v = rate_cards.rate_card_version_create(rate_card=euro, effective_from=dt.date(2026, 1, 1), actor=None)
    rate_cards.price_set(
        version=v, product=Product.objects.get(code="tok"), values={"model": "per_unit", "unit_price": D(1)}, actor=None
    )
    rate_cards.rate_card_version_activate(version=v, actor=None, as_of=NOW)
    with pytest.raises(ValidationError) as excinfo:
        contract_migrate(contracts=[contract], to_version=v, actor=None, reason="x")
    assert excinfo.value.code == "currency_mismatch"
    assert Contract.objects.get().pinned_version.number == 1


def test_the_api_previews_then_moves_contracts_and_read_keys_cannot_move(setup, write_client, read_client):
    contract, _ = setup
    body = {"contracts": [contract.pk], "rate_card": "std", "version": 2}
    with clock.frozen_at(NOW):
        preview = read_client.post("/api/v1/contract-migrations/preview", body, format="json")
        assert preview.status_code == 200, preview.json()
        assert preview.json()["impacts"][0]["before"] == "100.00"
        assert preview.json()["impacts"][0]["after"] == "120.00"
        refused = read_client.post("/api/v1/contract-migrations", {**body, "reason": "x"}, format="json")
        assert refused.status_code == 403
        assert Contract.objects.get().pinned_version.number == 1
        missing = write_client.post(
            "/api/v1/contract-migrations", {**body, "contracts": [999], "reason": "x"}, format="json"
        )
        assert missing.json()["error"]["code"] == "contract_not_found"
        moved = write_client.post("/api/v1/contract-migrations", {**body, "reason": "2027 prices"}, format="json")
    # A bulk migration needs another person's approval (issue 7); its impact is the preview's figures.
    assert moved.status_code == 202, moved.json()
    assert moved.json()["impact"]["rows"][0]["before"] == "100.00"
    assert moved.json()["impact"]["rows"][0]["after"] == "120.00"
    assert Contract.objects.get().pinned_version.number == 1
    approve_latest(as_of=NOW)
    assert Contract.objects.get().pinned_version.number == 2


def test_the_upcoming_invoice_bills_measured_usage_with_the_contract_terms(setup, read_client):
    contract, _ = setup
    usage_events_ingest(
        events=[
            {
                "transaction_id": f"n{i}",
                "customer": "acme",
                "event_type": "llm.completion",
                "timestamp": (NOW - dt.timedelta(hours=2)).isoformat(),
                "properties": {"tokens": 1500, "model": "small", "user": "u"},
            }
            for i in range(2)
        ],
        received_at=NOW,
    )
    with clock.frozen_at(NOW):
        body = read_client.get(f"/api/v1/contracts/{contract.pk}/upcoming-invoice").json()
    # November so far: 3,000 tokens at v1's 0.01 (the contract is pinned to v1) = 30.00
    assert (body["period_start"], body["period_end"]) == ("2026-11-01", "2026-12-01")
    assert [(line["product"], line["amount"]) for line in body["lines"]] == [("tok", "30.00")]
    assert body["total"] == "30.00"
