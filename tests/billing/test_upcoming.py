"""The upcoming invoice: the current period's invoice as the period close would make it now, written nowhere.

The contract (tests/billing/conftest.py): 10 seats at 40.00 and AI credits at 0.01 with 1,000 included a month.
"""

import datetime as dt
import html
import re
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from billing.models import Invoice, InvoiceLine
from billing.revenue.models import RevenueEntry
from billing.services.invoices import invoice_compute, invoice_finalize
from billing.services.taxes import tax_rate_create
from billing.services.upcoming import invoice_upcoming
from billing.webhooks.models import WebhookEvent
from catalog.models import Product
from contracts.models import Balance, LedgerEntry
from contracts.services import balances
from contracts.services import contracts as svc
from contracts.services.customers import customer_update
from revops import clock
from revops.errors import Conflict, ValidationError
from revops.roles import SALES
from tests.billing.support import CLOSE, NOVEMBER, use

pytestmark = pytest.mark.django_db
DECEMBER_10 = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def december(contract):
    """December of a contract with every kind of line: a 15% seat discount, California tax, a credit, a
    commitment bought in December, and late November usage that arrived after November was finalized."""
    tax_rate_create(
        name="CA sales tax", rate_percent=D("7.25"), region="US-CA", effective_from=dt.date(2026, 1, 1), actor=None
    )
    customer_update(customer=contract.customer, actor=None, reason="moved", tax_region="US-CA")
    seat = Product.objects.get(code="seat")
    svc.contract_amend(
        contract=contract,
        effective_from=dt.date(2026, 11, 1),
        actor=None,
        reason="renewal terms",
        terms=svc.Terms(overrides=[svc.OverrideSpec("discount", product=seat, discount_percent=D(15))]),
    )
    use(5, 1000)  # November: 4,000 credits beyond the 1,000 included = 40.00
    invoice_finalize(invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None)
    for kind, amount, expires_on in (("credit", D(25), dt.date(2027, 2, 1)), ("commit", D(300), dt.date(2027, 6, 1))):
        balances.balance_grant(
            contract=contract,
            kind=kind,
            amount=amount,
            starts_on=dt.date(2026, 12, 1),
            expires_on=expires_on,
            as_of=CLOSE,
            actor=None,
        )
    use(2, 600, prefix="late", received=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))
    return contract


def counts() -> dict[str, int]:
    models = {
        "invoices": Invoice,
        "invoice history": Invoice.history.model,
        "lines": InvoiceLine,
        "ledger entries": LedgerEntry,
        "balances": Balance,
        "webhook events": WebhookEvent,
        "revenue entries": RevenueEntry,
    }
    return {name: model.objects.count() for name, model in models.items()}


def test_the_upcoming_invoice_has_every_line_the_period_close_would_bill(december):
    upcoming = invoice_upcoming(contract=december, as_of=DECEMBER_10)
    assert (upcoming.period.start, upcoming.period.end) == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    # December's seats were billed in advance on November's invoice (unchanged since: no line for them);
    # January's 400.00 seats in advance less 15%; the 300.00 commitment bought; November now
    # (6,200 - 1,000) x 0.01 = 52.00, billed 40.00: a 12.00 correction. The credit (soonest expiry) pays 25.00,
    # the commitment 300.00 of the 352.00 left. Tax on 400 - 60 + 300 + 12 - 25 - 300 = 327.00 at 7.25%
    # = 23.7075 -> 23.71.
    assert upcoming.lines[0].service_start == dt.date(2027, 1, 1)
    assert [(line.kind, line.amount) for line in upcoming.lines] == [
        ("subscription", D("400.00")),
        ("discount", D("-60.00")),
        ("commit_purchase", D("300.00")),
        ("correction", D("12.00")),
        ("credit", D("-25")),
        ("commit", D("-300")),
        ("tax", D("23.71")),
    ]
    invoice = upcoming.invoice
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (D("652.00"), D("23.71"), D("350.71"))
    assert invoice.pk is None and invoice.number is None


def test_the_upcoming_invoice_is_what_computing_the_draft_then_stores(december):
    upcoming = invoice_upcoming(contract=december, as_of=DECEMBER_10)
    draft = invoice_compute(contract=december, period=upcoming.period, as_of=DECEMBER_10)
    fields = ("position", "kind", "product_id", "description", "quantity", "unit_price", "amount", "balance_id")
    stored = [tuple(getattr(line, f) for f in fields) for line in draft.lines.order_by("position")]
    assert [tuple(getattr(line, f) for f in fields) for line in upcoming.lines] == stored
    assert (upcoming.invoice.subtotal, upcoming.invoice.tax_total, upcoming.invoice.total) == (
        draft.subtotal,
        draft.tax_total,
        draft.total,
    )


def test_the_upcoming_invoice_writes_nothing(december, read_client):
    before = counts()
    remaining = {b.pk: balances.remaining(b) for b in Balance.objects.all()}
    invoice_upcoming(contract=december, as_of=DECEMBER_10)
    with clock.frozen_at(DECEMBER_10):
        response = read_client.get(f"/api/v1/contracts/{december.pk}/upcoming-invoice")
    assert response.status_code == 200, response.json()
    assert response.json()["total"] == "350.71"
    assert counts() == before
    assert before["invoices"] == 1 and before["ledger entries"] > 0 and before["webhook events"] > 0
    assert {b.pk: balances.remaining(b) for b in Balance.objects.all()} == remaining


def test_the_period_is_the_one_the_customer_lives_in(contract):
    customer_update(customer=contract.customer, actor=None, reason="moved", timezone="America/Los_Angeles")
    contract.customer.refresh_from_db()
    # 05:00 UTC on 1 December is still 30 November in Los Angeles.
    upcoming = invoice_upcoming(contract=contract, as_of=dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC))
    assert upcoming.period == NOVEMBER
    upcoming = invoice_upcoming(contract=contract, as_of=dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC))
    assert upcoming.period.start == dt.date(2026, 12, 1)


def test_once_the_period_is_finalized_early_the_next_period_is_upcoming(contract):
    use(5, 1000)  # November: 4,000 credits beyond the 1,000 included
    mid_november = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    # Nothing billed November before: its 400.00 seats + 40.00 credits, then December's 400.00 seats in advance.
    assert invoice_upcoming(contract=contract, as_of=mid_november).invoice.total == D("840.00")
    november = invoice_compute(contract=contract, period=NOVEMBER, as_of=mid_november)
    invoice_finalize(invoice=november, as_of=mid_november, actor=None)  # staff finalize it before it ends
    upcoming = invoice_upcoming(contract=contract, as_of=mid_november)
    assert upcoming.period.start == dt.date(2026, 12, 1)  # not November billed a second time
    # December's seats were billed ahead on November's invoice: only January's 400.00, in advance.
    assert [(line.kind, line.service_start, line.amount) for line in upcoming.lines] == [
        ("subscription", dt.date(2027, 1, 1), D("400.00"))
    ]
    # Ended with November after November's invoice billed December ahead: the period close still closes
    # December, to give those 400.00 back (billing/services/runs.py, closed_periods), so that credit is upcoming.
    svc.contract_end(contract=contract, end_date=dt.date(2026, 12, 1), actor=None, reason="churned")
    contract.refresh_from_db()
    upcoming = invoice_upcoming(contract=contract, as_of=mid_november)
    assert upcoming.period.start == dt.date(2026, 12, 1)
    assert [(line.kind, line.amount) for line in upcoming.lines] == [("billed_in_advance", D("-400.00"))]
    assert upcoming.invoice.total == D("-400.00")


def test_a_contract_ending_with_its_period_has_nothing_upcoming_once_that_period_is_invoiced(contract):
    # The end is known before November is invoiced, so November's invoice bills nothing past it.
    svc.contract_end(contract=contract, end_date=dt.date(2026, 12, 1), actor=None, reason="churned")
    contract.refresh_from_db()
    mid_november = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    november = invoice_compute(contract=contract, period=NOVEMBER, as_of=mid_november)
    assert [(line.service_start, line.amount) for line in november.lines.all()] == [(dt.date(2026, 11, 1), D("400"))]
    invoice_finalize(invoice=november, as_of=mid_november, actor=None)
    with pytest.raises(Conflict) as nothing:
        invoice_upcoming(contract=contract, as_of=mid_november)
    assert nothing.value.code == "nothing_upcoming"


def test_a_naive_time_is_refused(contract):
    with pytest.raises(ValidationError) as refused:
        invoice_upcoming(contract=contract, as_of=dt.datetime(2026, 11, 20, 12, 0))
    assert (refused.value.code, list(refused.value.fields)) == ("naive_datetime", ["as_of"])


def test_the_api_shows_the_invoice_shape_and_needs_a_key(december, read_client, anon_client):
    path = f"/api/v1/contracts/{december.pk}/upcoming-invoice"
    assert anon_client.get(path).status_code in (401, 403)
    assert read_client.get("/api/v1/contracts/999999/upcoming-invoice").json()["error"]["code"] == "contract_not_found"
    with clock.frozen_at(DECEMBER_10):
        body = read_client.get(path).json()
    assert (body["period_start"], body["period_end"], body["currency"]) == ("2026-12-01", "2027-01-01", "USD")
    assert (body["subtotal"], body["tax_total"], body["total"]) == ("652.00", "23.71", "350.71")
    assert body["as_of"] == "2026-12-10T12:00:00Z"
    assert body["note"].startswith("An estimate: usage measured up to as_of")
    seats, discount, *_, tax = body["lines"]
    assert {k: seats[k] for k in ("kind", "product", "quantity", "unit_price", "amount", "pricing_model")} == {
        "kind": "subscription",
        "product": "seat",
        "quantity": "10",
        "unit_price": "40",
        "amount": "400.00",
        "pricing_model": "per_unit",
    }
    # January's seats, billed in advance (December's were billed on November's invoice)
    assert (seats["service_start"], seats["service_end"]) == ("2027-01-01", "2027-02-01")
    assert (discount["kind"], discount["description"], discount["amount"]) == (
        "discount",
        "Seat: 15% contract discount",
        "-60.00",
    )
    assert (tax["kind"], tax["taxable_base"], tax["tax_percent"], tax["amount"]) == ("tax", "327", "7.25", "23.71")


# --- the admin ----------------------------------------------------------------------------------------------


def text(response) -> str:
    """The page as a person reads it: tags removed, whitespace collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def staff(username: str, *codenames: str, group: str | None = None) -> Client:
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    client = Client()
    client.force_login(user)
    return client


def test_the_contract_page_links_to_its_upcoming_invoice_which_writes_nothing(december, admin_client):
    page = reverse("admin:billing_invoice_upcoming", args=[december.pk])
    contract_page = admin_client.get(reverse("admin:contracts_contract_change", args=[december.pk]))
    assert contract_page.status_code == 200 and f'href="{page}"' in contract_page.content.decode()
    before = counts()
    with clock.frozen_at(DECEMBER_10):
        shown = admin_client.get(page)
    assert shown.status_code == 200
    words = text(shown)
    assert "for the period from 2026-12-01 to 2027-01-01" in words
    assert "Seat: 15% contract discount Discount" in words and "-60.00 USD" in words
    assert "Subtotal 652.00 USD Tax 23.71 USD Total 350.71 USD" in words
    assert "An estimate: usage measured up to as_of" in words
    assert counts() == before


def test_the_upcoming_invoice_page_needs_the_invoice_view_permission_and_the_customer(december):
    page = reverse("admin:billing_invoice_upcoming", args=[december.pk])
    nobody = staff("nobody", "view_contract")
    assert nobody.get(page).status_code == 403
    contract_page = nobody.get(reverse("admin:contracts_contract_change", args=[december.pk]))
    assert contract_page.status_code == 200 and page not in contract_page.content.decode()  # no dead link
    assert staff("finance", "view_invoice").get(page).status_code == 200
    sales = staff("sales", "view_invoice", "view_contract", group=SALES)
    assert sales.get(page).status_code == 404  # not their customer: as if it did not exist
    assert (
        staff("auditor", "view_invoice").get(reverse("admin:billing_invoice_upcoming", args=[999999])).status_code
        == 404
    )
