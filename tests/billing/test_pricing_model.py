"""Each invoice line's pricing model, as the API and the webhooks show it and as the month-end close groups it."""

import datetime as dt
import json

import pytest

from billing.models import LineKind
from billing.revenue import reports
from billing.services.invoices import invoice_compute, invoice_finalize
from billing.webhooks.models import WebhookEvent
from tests.billing.books import make_books
from tests.billing.support import CLOSE, NOVEMBER, use

pytestmark = pytest.mark.django_db


@pytest.fixture
def november(contract):
    # 5,000 credits, 1,000 included: 40.00 of usage beside the 10 seats' 400.00, then December's 400.00 in advance
    use(5, 1000)
    return invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )


def test_each_line_of_an_invoice_shows_its_pricing_model(november, read_client):
    body = read_client.get(f"/api/v1/invoices/{november.pk}").json()
    assert [(line["kind"], line["pricing_model"], line["amount"]) for line in body["lines"]] == [
        ("subscription", "per_unit", "400.00"),
        ("usage", "per_unit", "40.00"),
        ("subscription", "per_unit", "400.00"),
    ]


def test_the_invoice_webhook_carries_the_lines_with_their_pricing_model(november, webhook_endpoint, read_client):
    [event] = WebhookEvent.objects.filter(type="invoice.finalized")
    data = json.loads(event.body)["data"]
    assert [(line["kind"], line["pricing_model"]) for line in data["lines"]] == [
        ("subscription", "per_unit"),
        ("usage", "per_unit"),
        ("subscription", "per_unit"),
    ]
    # the invoice as GET /invoices/{id} shows it (but for `overdue`, which depends on the day it is read)
    shown = read_client.get(f"/api/v1/invoices/{november.pk}").json()
    assert {k: v for k, v in data.items() if k != "overdue"} == {k: v for k, v in shown.items() if k != "overdue"}


def test_a_late_usage_correction_has_the_pricing_model_of_the_usage_it_corrects(contract):
    books = make_books(contract)
    [correction] = books["beta_2"].lines.filter(kind=LineKind.CORRECTION)
    assert (correction.product.code, correction.pricing_model) == ("credits", "per_unit")
    summary = reports.month_end_summary(month=dt.date(2026, 3, 1))
    assert [(r["pricing_model"], f"{r['amount']:.2f}") for r in summary.pricing_models] == [
        ("(none)", "-100.00"),  # only the commitment applied
        ("per_unit", "160.00"),  # beta's seat 40.00, gamma's usage 100.00 and the 20.00 correction
    ]


def test_the_invoice_payload_reads_its_lines_in_one_query(november, django_assert_num_queries):
    from billing.models import Invoice
    from billing.webhooks.payloads import invoice_data

    invoice = Invoice.objects.select_related("customer").get(pk=november.pk)
    with django_assert_num_queries(1):  # the lines with their products; the customer was read with the invoice
        data = invoice_data(invoice)
    assert [line["product"] for line in data["lines"]] == ["seat", "credits", "seat"]
