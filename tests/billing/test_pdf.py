"""Invoice PDFs: rendered from the frozen lines, refused for drafts, stored once, rendered by a Celery task."""

import datetime as dt
import hashlib
import io
import shutil
import subprocess
from decimal import Decimal as D

import pytest
from babel.numbers import format_currency

from billing.documents import InvoiceDocument
from billing.models import Invoice
from billing.pdf import TEMPLATE_VERSION, invoice_document_store, render_invoice_pdf
from billing.services.invoices import invoice_compute, invoice_finalize, invoice_mark_paid, invoice_void
from billing.tasks import render_invoice_pdf as render_task
from billing.tasks import render_invoice_pdfs as render_many_task
from catalog.services import metrics, products, rate_cards
from contracts.models import Customer
from contracts.services import balances
from contracts.services import contracts as svc
from revops.errors import Conflict
from revops.periods import Period
from usage import rollups
from usage.services import usage_events_ingest

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
CLOSE = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page, with pypdf when installed, else poppler's pdftotext; skips if neither is there."""
    try:
        from pypdf import PdfReader
    except ImportError:
        if shutil.which("pdftotext") is None:
            pytest.skip("needs pypdf or poppler-utils (pdftotext) to read the PDF's text")
        out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        return out.split("\f")[:-1]
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def pdf_text(pdf: bytes) -> str:
    """All the text, whitespace collapsed (a long description may wrap in its cell)."""
    return " ".join(" ".join(pdf_pages(pdf)).split())


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


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
        version=version,
        product=credits,
        values={"model": "graduated"},
        tiers=[
            {"start": D(0), "up_to": D(1000), "unit_price": D("0.01")},
            {"start": D(1000), "up_to": None, "unit_price": D("0.005")},
        ],
        actor=None,
    )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=T0)
    customer = Customer.objects.create(
        external_id="acme",
        name="Acme Robotics Ltd",
        currency="USD",
        billing_address="1 Canal Street\nManchester M1 3HE\nUnited Kingdom",
        tax_id="GB 123 4567 89",
        billing_email="ap@acme.example",
    )
    contract = svc.contract_create(
        customer=customer, rate_card=card, start_date=dt.date(2026, 1, 1), actor=None, subscriptions=[(seat, D(10))]
    )
    svc.contract_activate(contract=contract, actor=None)
    balances.balance_grant(
        contract=contract,
        kind="credit",
        amount=D(25),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 1, 1),
        as_of=T0,
        actor=None,
    )
    usage_events_ingest(
        events=[
            {
                "transaction_id": f"e{i}",
                "customer": "acme",
                "event_type": "credits.used",
                "timestamp": "2026-11-20T00:00:00+00:00",
                "properties": {"credits": 1500},
            }
            for i in range(4)
        ],
        received_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
    )
    return contract


@pytest.fixture
def invoice(contract):
    draft = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    return invoice_finalize(invoice=draft, as_of=CLOSE, actor=None)


def test_the_pdf_shows_the_frozen_invoice(invoice):
    lines = list(invoice.lines.order_by("position"))
    # 10 seats x 40 = 400; 6,000 credits: 1,000 x 0.01 + 5,000 x 0.005 = 35; December's 10 seats billed in
    # advance: 400; subtotal 835; the 25 credit pays part of it: total 810.
    assert [(line.kind, line.amount) for line in lines] == [
        ("subscription", D("400.00")),
        ("usage", D("35.00")),
        ("subscription", D("400.00")),
        ("credit", D("-25.00")),
    ]
    assert (lines[0].service_start, lines[2].service_start) == (dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert len(lines[1].breakdown) == 2
    pdf = render_invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF")
    pages = pdf_pages(pdf)
    assert len(pages) >= 1
    text = " ".join(" ".join(pages).split())
    assert invoice.number in text
    assert "Acme Robotics Ltd" in text and "GB 123 4567 89" in text and "Manchester M1 3HE" in text
    assert "Lumora AI, Inc." in text
    for line in lines:
        assert line.description in text
    for tier in lines[1].breakdown:
        assert tier["description"] in text
    assert format_currency(invoice.total, "USD", locale="en_US") == "$810.00"
    assert "$810.00" in text and "$835.00" in text and "-$25.00" in text
    assert "Please pay" in text and "Credit due to you" not in text
    assert "$0.005" in text  # a tier's unit price keeps its decimals
    assert "VOID" not in text and "PAID" not in text


def test_seller_details_come_from_settings(invoice, settings):
    settings.REVOPS_SELLER = {"name": "Lumora Europe GmbH", "tax_id": "DE 999999999"}
    text = pdf_text(render_invoice_pdf(invoice))
    assert "Lumora Europe GmbH" in text and "DE 999999999" in text
    assert "548 Market Street" in text  # what the setting leaves out keeps its default


def test_paid_and_void_invoices_are_marked(invoice, contract):
    paid = invoice_mark_paid(invoice=invoice, reference="WIRE-42", as_of=CLOSE, actor=None)
    text = pdf_text(render_invoice_pdf(paid))
    assert "PAID" in text and "WIRE-42" in text

    december = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    other = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=december, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    void = invoice_void(invoice=other, reason="sent to the wrong entity", as_of=CLOSE, actor=None)
    text = pdf_text(render_invoice_pdf(void))
    assert "VOID" in text and "sent to the wrong entity" in text


def test_a_draft_or_unnumbered_invoice_has_no_pdf(contract):
    draft = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    with pytest.raises(Conflict) as refused:
        render_invoice_pdf(draft)
    assert refused.value.code == "not_renderable"
    with pytest.raises(Conflict):
        invoice_document_store(draft)
    assert not InvoiceDocument.objects.exists()


def test_storing_twice_returns_the_same_document(invoice, media_root):
    first = invoice_document_store(invoice)
    again = invoice_document_store(Invoice.objects.get(pk=invoice.pk))
    assert again.pk == first.pk and InvoiceDocument.objects.count() == 1
    assert again.sha256 == first.sha256
    assert first.file.name == f"invoices/{invoice.number}.pdf"
    stored = (media_root / first.file.name).read_bytes()
    assert stored.startswith(b"%PDF") and len(stored) == first.size
    assert hashlib.sha256(stored).hexdigest() == first.sha256
    assert (first.template_version, first.invoice_status) == (TEMPLATE_VERSION, "finalized")


def test_an_orphan_file_from_a_failed_attempt_is_replaced(invoice, media_root):
    orphan = media_root / "invoices" / f"{invoice.number}.pdf"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half-written")
    document = invoice_document_store(invoice)
    assert document.file.name == f"invoices/{invoice.number}.pdf"
    assert orphan.read_bytes().startswith(b"%PDF")


def test_the_task_runs_eagerly_and_stores_the_document(invoice, settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER
    result = render_task.delay(invoice.pk)
    document = InvoiceDocument.objects.get(invoice=invoice)
    assert result.get() == document.pk
    assert document.file.read().startswith(b"%PDF")


def test_the_period_close_task_renders_several_and_one_failure_stops_none_of_the_others(invoice):
    draft = Invoice.objects.create(
        contract=invoice.contract, customer=invoice.customer, period_start=dt.date(2027, 1, 1),
        period_end=dt.date(2027, 2, 1), currency="USD",
    )  # fmt: skip
    with pytest.raises(RuntimeError, match=rf"PDFs not rendered for invoices \[{draft.pk}\]; rendered 1"):
        render_many_task.delay([draft.pk, invoice.pk]).get()
    document = InvoiceDocument.objects.get()  # the draft has none; the invoice after it was still rendered
    assert document.invoice_id == invoice.pk
    assert render_many_task.delay([invoice.pk]).get() == [document.pk]  # stored once


def test_the_pdf_downloads_over_the_api_with_its_checksum(invoice, read_client):
    import hashlib

    response = read_client.get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF")
    assert response["X-Checksum-SHA256"] == hashlib.sha256(body).hexdigest()
    assert read_client.get("/api/v1/invoices/999999/pdf").status_code == 404


# --- discount and tax lines; a new document when paid or voided ----------------------------------------


@pytest.fixture
def taxed_invoice(contract):
    """The fixture's November with a 10% seat discount, VAT 19% (DE) and the 25.00 credit."""
    from billing.services.taxes import tax_rate_create
    from catalog.models import Product
    from contracts.services.customers import customer_update

    tax_rate_create(name="VAT", rate_percent=D(19), region="DE", effective_from=dt.date(2026, 1, 1), actor=None)
    customer_update(customer=contract.customer, actor=None, reason="billed from Berlin", tax_region="DE")
    svc.contract_amend(
        contract=contract,
        effective_from=dt.date(2026, 11, 1),
        actor=None,
        reason="renewal discount",
        terms=svc.Terms(
            overrides=[svc.OverrideSpec("discount", product=Product.objects.get(code="seat"), discount_percent=D(10))]
        ),
    )
    draft = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    return invoice_finalize(invoice=draft, as_of=CLOSE, actor=None)


def test_the_pdf_shows_discount_and_tax_lines(taxed_invoice):
    # November: 400.00 list - 40.00 discount + 35.00 credits; December billed in advance: 400.00 - 40.00;
    # subtotal 755.00; the 25.00 credit leaves 730.00; VAT 19% = 138.70; total 755.00 - 25.00 + 138.70 = 868.70
    assert [(line.kind, line.amount) for line in taxed_invoice.lines.order_by("position")] == [
        ("subscription", D("400.00")),
        ("discount", D("-40.00")),
        ("usage", D("35.00")),
        ("subscription", D("400.00")),
        ("discount", D("-40.00")),
        ("credit", D("-25.00")),
        ("tax", D("138.70")),
    ]
    assert (taxed_invoice.subtotal, taxed_invoice.tax_total, taxed_invoice.total) == (
        D("755.00"),
        D("138.70"),
        D("868.70"),
    )
    text = pdf_text(render_invoice_pdf(taxed_invoice))
    assert "Seat: 10% contract discount" in text and "-$40.00" in text
    assert "VAT (DE) 19%" in text and "on $730.00" in text and "$138.70" in text
    assert "$755.00" in text and "$868.70" in text


def test_paying_stores_a_new_document_and_keeps_the_earlier(
    taxed_invoice, media_root, read_client, django_capture_on_commit_callbacks
):
    first = invoice_document_store(taxed_invoice)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_mark_paid(invoice=taxed_invoice, reference="SEPA-77", as_of=CLOSE + dt.timedelta(days=9), actor=None)
    documents = list(InvoiceDocument.objects.filter(invoice=taxed_invoice).order_by("pk"))
    assert [(d.invoice_status, d.file.name) for d in documents] == [
        ("finalized", f"invoices/{taxed_invoice.number}.pdf"),
        ("paid", f"invoices/{taxed_invoice.number}-paid.pdf"),
    ]
    earlier = (media_root / first.file.name).read_bytes()
    assert hashlib.sha256(earlier).hexdigest() == first.sha256  # the one sent before payment, unchanged
    assert "PAID" not in pdf_text(earlier)
    response = read_client.get(f"/api/v1/invoices/{taxed_invoice.pk}/pdf")
    body = b"".join(response.streaming_content)
    assert response["X-Checksum-SHA256"] == documents[1].sha256 == hashlib.sha256(body).hexdigest()
    text = pdf_text(body)
    assert "PAID" in text and "SEPA-77" in text and "Dec 10, 2026" in text


def test_voiding_stores_a_void_document(taxed_invoice, read_client, django_capture_on_commit_callbacks):
    invoice_document_store(taxed_invoice)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_void(invoice=taxed_invoice, reason="billed to the wrong entity", as_of=CLOSE, actor=None)
    statuses = list(InvoiceDocument.objects.filter(invoice=taxed_invoice).values_list("invoice_status", flat=True))
    assert sorted(statuses) == ["finalized", "void"]
    body = b"".join(read_client.get(f"/api/v1/invoices/{taxed_invoice.pk}/pdf").streaming_content)
    text = pdf_text(body)
    assert "VOID" in text and "billed to the wrong entity" in text


def test_an_exempt_customer_is_not_taxed_and_the_pdf_says_why(contract):
    from billing.services.taxes import tax_rate_create
    from contracts.services.customers import customer_update

    tax_rate_create(name="VAT", rate_percent=D(19), region="DE", effective_from=dt.date(2026, 1, 1), actor=None)
    customer_update(
        customer=contract.customer,
        actor=None,
        reason="certificate received",
        tax_region="DE",
        tax_exempt=True,
        tax_exempt_reason="intra-community supply, reverse charge",
    )
    invoice = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    # 400.00 November's seats + 35.00 credits + 400.00 December's seats - the 25.00 credit, untaxed
    assert invoice.tax_total == D("0.00") and invoice.total == D("810.00")
    text = pdf_text(render_invoice_pdf(invoice))
    assert "Tax exempt: intra-community supply, reverse charge" in text and "VAT" not in text


def test_the_system_check_warns_when_pdfs_would_subset_fonts_in_python(monkeypatch):
    import ctypes.util

    from billing.checks import pdf_font_subsetting

    installed = ctypes.util.find_library("harfbuzz-subset") is not None
    assert (pdf_font_subsetting() == []) is installed
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)  # a system without the library
    [warning] = pdf_font_subsetting()
    assert warning.id == "billing.W001" and "libharfbuzz-subset0" in warning.hint


def test_after_a_first_render_the_long_lived_heap_is_out_of_the_collectors_way(invoice):
    import gc

    render_invoice_pdf(invoice)
    assert gc.get_freeze_count() > 10_000  # Django, WeasyPrint and the fonts: not walked by every full collection
