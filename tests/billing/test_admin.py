"""The billing admin, driven as finance staff drive it: a logged-in superuser on the invoice pages.

The contract bills 10 seats at 40 a month (USD), in advance: November's invoice, computed with nothing billed
before, is 800.00 (November's seats and December's ahead); December's then bills only January's, 400.00.
"""

import datetime as dt
import html
import re
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from billing.models import Invoice, InvoiceCounter
from billing.services.invoices import invoice_compute, invoice_finalize
from catalog.services import products, rate_cards
from contracts.models import Customer
from contracts.services import contracts as svc
from revops import clock
from revops.periods import Period

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
CLOSE = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))


def url(name: str, *args) -> str:
    return reverse(f"admin:billing_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def last_message(response) -> str:
    """The message the request added (earlier ones wait unread: the tests do not follow redirects)."""
    return messages_of(response)[-1]


def text(response) -> str:
    """The page as a person reads it: tags removed, whitespace collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture(autouse=True)
def at_close():
    with clock.frozen_at(CLOSE):
        yield


@pytest.fixture
def contract(db):
    seat = products.product_create(code="seat", name="Seat", kind="subscription", actor=None)
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    rate_cards.price_set(version=version, product=seat, values={"model": "per_unit", "unit_price": D(40)}, actor=None)
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    customer = Customer.objects.create(external_id="acme", name="Acme", currency="USD")
    made = svc.contract_create(
        customer=customer, rate_card=card, start_date=dt.date(2026, 1, 1), actor=None, subscriptions=[(seat, D(10))]
    )
    svc.contract_activate(contract=made, actor=None)
    return made


@pytest.fixture
def draft(contract):
    return invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)


def test_the_pages_render(admin_client, draft):
    final = invoice_finalize(
        invoice=invoice_compute(
            contract=draft.contract, period=Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1)), as_of=CLOSE
        ),
        as_of=CLOSE,
        actor=None,
    )
    listing = admin_client.get(url("invoice_changelist"))
    assert listing.status_code == 200
    assert "INV-2026-000001" in text(listing) and "(draft)" in text(listing)
    assert "400.00 USD" in text(listing)
    assert admin_client.get(url("invoice_changelist"), {"status__exact": "draft", "q": "acme"}).status_code == 200
    searched = admin_client.get(url("invoice_changelist"), {"q": "INV-2026-000001"})
    assert "INV-2026-000001" in text(searched) and "(draft)" not in text(searched)

    page = admin_client.get(url("invoice_change", draft.pk))
    assert page.status_code == 200
    assert "Seat" in text(page) and "Recompute draft…" in text(page) and "Finalize…" in text(page)
    assert "Void…" not in text(page)
    page = admin_client.get(url("invoice_change", final.pk))
    assert "Void…" in text(page) and "Mark paid…" in text(page) and "Finalize…" not in text(page)
    for name in ("recompute", "finalize"):
        assert admin_client.get(url(f"invoice_{name}", draft.pk)).status_code == 200
    for name in ("void", "mark_paid"):
        assert admin_client.get(url(f"invoice_{name}", final.pk)).status_code == 200
    assert admin_client.get(url("invoice_history", final.pk)).status_code == 200
    assert admin_client.get(url("invoicecounter_changelist")).status_code == 200
    assert "INV-2026" in text(admin_client.get(url("invoicecounter_changelist")))
    assert admin_client.get(url("invoice_add")).status_code == 403


def test_recompute_finalize_void_and_mark_paid_through_the_admin(admin_client, draft):
    response = admin_client.post(url("invoice_recompute", draft.pk), {})
    assert response.status_code == 302
    assert last_message(response) == f"Recomputed {draft}: total 800.00 USD."

    response = admin_client.post(url("invoice_finalize", draft.pk), {})
    assert response.status_code == 302 and response["Location"] == url("invoice_change", draft.pk)
    final = Invoice.objects.get(pk=draft.pk)
    assert (final.status, final.number, final.total) == ("finalized", "INV-2026-000001", D("800.00"))
    assert last_message(response) == "Finalized INV-2026-000001: 800.00 USD, due 2026-12-31."
    assert final.history.first().history_user.username == "admin"
    page = admin_client.get(url("invoice_change", draft.pk))
    assert f"/api/v1/invoices/{draft.pk}/pdf" in page.content.decode()  # the PDF download link

    # Void asks for a reason: without one, the form comes back and nothing changed.
    response = admin_client.post(url("invoice_void", draft.pk), {"reason": ""})
    assert response.status_code == 200 and "This field is required." in text(response)
    assert Invoice.objects.get(pk=draft.pk).status == "finalized"
    response = admin_client.post(url("invoice_void", draft.pk), {"reason": "wrong seats"})
    assert response.status_code == 302
    voided = Invoice.objects.get(pk=draft.pk)
    assert (voided.status, voided.void_reason, voided.number) == ("void", "wrong seats", "INV-2026-000001")
    assert voided.history.first().history_change_reason == "voided: wrong seats"

    december = invoice_finalize(
        invoice=invoice_compute(
            contract=draft.contract, period=Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1)), as_of=CLOSE
        ),
        as_of=CLOSE,
        actor=None,
    )
    response = admin_client.post(url("invoice_mark_paid", december.pk), {"reference": "wire 4471"})
    assert response.status_code == 302
    paid = Invoice.objects.get(pk=december.pk)
    assert (paid.status, paid.payment_reference, paid.paid_at) == ("paid", "wire 4471", CLOSE)


def test_a_refusal_is_a_message_and_changes_nothing(admin_client, draft):
    final = invoice_finalize(invoice=draft, as_of=CLOSE, actor=None)
    history = final.history.count()

    for name, data in [("finalize", {}), ("recompute", {}), ("mark_paid", {"reference": "w"})]:
        if name == "mark_paid":
            admin_client.post(url("invoice_void", final.pk), {"reason": "duplicate"})
            history += 1
        response = admin_client.post(url(f"invoice_{name}", final.pk), data)
        assert response.status_code == 302, name
        assert response["Location"] == url("invoice_change", final.pk)
        message = last_message(response)
        assert message.startswith("Nothing changed: invoice INV-2026-000001 is "), message
    assert Invoice.objects.get(pk=final.pk).history.count() == history
    assert InvoiceCounter.objects.get().next_number == 2
    # The page the refusals redirect to shows their messages.
    page = admin_client.get(url("invoice_change", final.pk))
    assert page.status_code == 200 and "Nothing changed: invoice INV-2026-000001 is void" in text(page)


def test_a_viewer_reads_but_cannot_act(draft):
    viewer = get_user_model().objects.create_user(username="viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client = Client()
    client.force_login(viewer)
    page = client.get(url("invoice_change", draft.pk))
    assert page.status_code == 200 and "Finalize…" not in text(page)
    assert client.post(url("invoice_finalize", draft.pk), {}).status_code == 403
    assert Invoice.objects.get(pk=draft.pk).status == "draft"
