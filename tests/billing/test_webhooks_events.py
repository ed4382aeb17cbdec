"""Each business event is emitted exactly once, from the service that makes it, and reaches the endpoints
that want it only once the transaction commits."""

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from django.db import transaction

from billing.services.credit_notes import credit_note_create
from billing.services.invoices import invoice_compute, invoice_finalize, invoice_mark_paid, invoice_void
from billing.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from billing.webhooks.services import webhook_emit, webhook_endpoint_create
from catalog.services import rate_cards
from contracts.models import BalanceKind
from contracts.services import balances
from tests.billing.support import CLOSE, NOVEMBER, T0, use

pytestmark = pytest.mark.django_db


def _events(event_type: str) -> list[dict]:
    return [json.loads(e.body) for e in WebhookEvent.objects.filter(type=event_type).order_by("pk")]


@pytest.fixture
def final(contract, webhook_endpoint):
    use(5, 1000)
    return invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )


def test_finalizing_emits_invoice_finalized_once_with_the_invoice_as_the_api_shows_it(final, webhook_endpoint):
    [event] = _events("invoice.finalized")
    assert event["type"] == "invoice.finalized"
    assert event["timestamp"] == "2026-12-01T09:00:00Z"
    data = event["data"]
    assert (data["id"], data["number"], data["status"]) == (final.pk, "INV-2026-000001", "finalized")
    # 400.00 seats + (5,000 - 1,000 included) x 0.01 = 40.00 credits + December's 400.00 seats in advance
    assert (data["total"], data["currency"], data["customer"]) == ("840.00", "USD", "acme")
    assert WebhookDelivery.objects.filter(event__type="invoice.finalized", endpoint=webhook_endpoint).count() == 1
    # recomputing other drafts emits nothing
    assert WebhookEvent.objects.filter(type__startswith="invoice.").count() == 1


def test_voiding_emits_invoice_voided_once(final):
    invoice_void(invoice=final, reason="sent in error", as_of=CLOSE, actor=None)
    [event] = _events("invoice.voided")
    assert (event["data"]["status"], event["data"]["void_reason"]) == ("void", "sent in error")
    assert _events("invoice.paid") == []


def test_marking_paid_emits_invoice_paid_once(final):
    invoice_mark_paid(invoice=final, reference="wire 42", as_of=CLOSE, actor=None)
    [event] = _events("invoice.paid")
    assert (event["data"]["status"], event["data"]["payment_reference"]) == ("paid", "wire 42")
    assert len(_events("invoice.finalized")) == 1


def test_a_refused_change_emits_nothing(final):
    invoice_mark_paid(invoice=final, reference="wire 42", as_of=CLOSE, actor=None)
    with pytest.raises(Exception, match="only a finalized"):
        invoice_void(invoice=final, reason="too late", as_of=CLOSE, actor=None)
    with pytest.raises(Exception, match="only a finalized"):
        invoice_mark_paid(invoice=final, reference="twice", as_of=CLOSE, actor=None)
    assert _events("invoice.voided") == []
    assert len(_events("invoice.paid")) == 1


def test_a_credit_note_emits_credit_note_created_once(final):
    credit_note_create(invoice=final, reason="goodwill", as_of=CLOSE, actor=None)
    [event] = _events("credit_note.created")
    assert (event["data"]["number"], event["data"]["invoice"]) == ("CN-2026-000001", "INV-2026-000001")
    assert (event["data"]["total"], event["data"]["reason"]) == ("840.00", "goodwill")  # the whole invoice
    assert len(event["data"]["lines"]) == 3  # November's seats, the credits, December's seats


def test_activating_a_rate_card_version_emits_rate_card_activated_once(contract, webhook_endpoint):
    before = len(_events("rate_card.activated"))  # the contract fixture activated its own card
    card = rate_cards.rate_card_create(code="eu", name="Europe", currency="EUR", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2027, 1, 1), actor=None)
    seat = contract.rate_card.versions.first().prices.first().product
    rate_cards.price_set(version=version, product=seat, values={"model": "per_unit", "unit_price": D(35)}, actor=None)
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    events = _events("rate_card.activated")
    assert len(events) == before + 1
    data = events[-1]["data"]
    assert (data["rate_card"], data["number"], data["status"], data["currency"]) == ("eu", 1, "active", "EUR")
    assert data["effective_from"] == "2027-01-01"


def test_low_balance_is_emitted_once_per_crossing_below_the_threshold(contract, webhook_endpoint, settings):
    assert settings.REVOPS_COMMIT_LOW_BALANCE_PERCENT == 20
    commit = balances.balance_grant(
        contract=contract,
        kind=BalanceKind.COMMIT,
        amount=D(1000),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 1, 1),
        as_of=T0,
        actor=None,
        name="2026 commit",
    )

    def draw(amount):
        balances.balance_draw_down(contract=contract, amount=D(amount), on=dt.date(2026, 6, 1), as_of=T0, actor=None)

    draw(800)  # 200 left: at the threshold, not below it
    assert _events("commit.low_balance") == []
    draw("0.01")  # 199.99: crossed
    draw(50)  # still below: no second event
    [event] = _events("commit.low_balance")
    assert event["data"] == {
        "balance_id": commit.pk,
        "name": "2026 commit",
        "contract": contract.pk,
        "customer": "acme",
        "currency": "USD",
        "amount": "1000",
        "remaining": "199.99",
        "threshold": "200",
        "threshold_percent": 20,
        "starts_on": "2026-01-01",
        "expires_on": "2027-01-01",
    }
    balances.balance_adjust(balance=commit, amount=D(500), as_of=T0, actor=None, reason="top-up")  # 649.99
    draw(500)  # 149.99: a new crossing
    assert [e["data"]["remaining"] for e in _events("commit.low_balance")] == ["199.99", "149.99"]


def test_credits_drawn_low_emit_nothing(contract):
    balances.balance_grant(
        contract=contract,
        kind=BalanceKind.CREDIT,
        amount=D(100),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 1, 1),
        as_of=T0,
        actor=None,
    )
    balances.balance_draw_down(contract=contract, amount=D(95), on=dt.date(2026, 6, 1), as_of=T0, actor=None)
    assert _events("commit.low_balance") == []


def test_an_endpoint_gets_only_the_types_it_wants_and_a_disabled_one_nothing(db, settings):
    settings.REVOPS_WEBHOOK_ALLOW_HTTP = True
    paid_only = webhook_endpoint_create(
        url="https://erp.example.com/h", event_types=["invoice.paid"], as_of=T0, actor=None
    ).endpoint
    everything = webhook_endpoint_create(url="https://crm.example.com/h", as_of=T0, actor=None).endpoint
    webhook_endpoint_create(url="https://old.example.com/h", enabled=False, as_of=T0, actor=None)
    webhook_emit(event_type="invoice.finalized", data={"id": 1}, as_of=T0)
    webhook_emit(event_type="invoice.paid", data={"id": 1}, as_of=T0)
    sent = sorted(WebhookDelivery.objects.values_list("endpoint_id", "event__type"))
    assert sent == sorted(
        [(everything.pk, "invoice.finalized"), (everything.pk, "invoice.paid"), (paid_only.pk, "invoice.paid")]
    )


def test_an_event_in_a_rolled_back_transaction_leaves_nothing_and_sends_nothing(
    webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        webhook_emit(event_type="invoice.paid", data={"id": 1}, as_of=T0)
        raise RuntimeError("the caller failed after emitting")
    assert callbacks == []
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert webhook_receiver.received == []


def test_on_commit_the_delivery_is_sent_and_verified_end_to_end(
    contract, webhook_endpoint, webhook_receiver, django_capture_on_commit_callbacks
):
    use(5, 1000)
    draft = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_finalize(invoice=draft, as_of=CLOSE, actor=None)  # tasks run in-process without a broker
    [got] = [r for r in webhook_receiver.received if r.payload and r.payload["type"] == "invoice.finalized"]
    assert got.verified, got.error
    assert got.payload["data"]["number"] == "INV-2026-000001"
    delivery = WebhookDelivery.objects.get(event__type="invoice.finalized")
    assert (delivery.status, delivery.attempts_made) == (DeliveryStatus.SUCCEEDED, 1)
