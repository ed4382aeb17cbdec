"""Invoice PDFs: rendered with WeasyPrint from `templates/billing/invoice.html`, stored once per invoice.

The PDF shows what the invoice froze at finalization, read from its stored lines and totals; nothing is
recomputed here. Fonts are the system's (DejaVu / Liberation); nothing is fetched from the network.

Seller details and the locale used for money and dates come from settings, with defaults:

    REVOPS_SELLER = {"name": ..., "address": "line\\nline", "tax_id": ..., "email": ..., "website": ...,
                     "payment_instructions": "..."}
    REVOPS_INVOICE_LOCALE = "en_US"
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from billing.documents import InvoiceDocument
from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from revops.errors import Conflict

# Bump when the template's look or content changes, so stored documents say which template made them.
TEMPLATE_VERSION = "3"
TEMPLATE_NAME = "billing/invoice.html"
STYLESHEET_NAME = "billing/invoice.css"

DEFAULT_SELLER = {
    "name": "Lumora AI, Inc.",
    "address": "548 Market Street, Suite 1200\nSan Francisco, CA 94104\nUnited States",
    "tax_id": "EIN 00-0000000",
    "email": "billing@lumora.ai",
    "website": "lumora.ai",
    "payment_instructions": "",
}
DEFAULT_LOCALE = "en_US"

_BALANCE_KINDS = (LineKind.COMMIT, LineKind.CREDIT)
_DOCUMENT_STATUSES = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID, InvoiceStatus.VOID)


def seller() -> dict[str, str]:
    return {**DEFAULT_SELLER, **getattr(settings, "REVOPS_SELLER", {})}


def invoice_locale() -> str:
    return getattr(settings, "REVOPS_INVOICE_LOCALE", DEFAULT_LOCALE)


# --- formatting -------------------------------------------------------------------------------------


def _trim(value: Decimal) -> Decimal:
    """Drop trailing zeros (0.010000000000 -> 0.01, 40.000 -> 40) without going to exponent form."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def money(amount: Decimal | str | None, currency: str, locale: str) -> str:
    """An amount in the currency's minor unit: $1,234.50, -€12.00, ¥1,200."""
    if amount is None or amount == "":
        return ""
    return format_currency(Decimal(amount), currency, locale=locale)


def rate(amount: Decimal | str | None, currency: str, locale: str) -> str:
    """A unit price with all the decimals it has (a token can cost $0.000002), at least the currency's."""
    if amount is None or amount == "":
        return ""
    return format_currency(_trim(Decimal(amount)), currency, locale=locale, decimal_quantization=False)


def quantity(value: Decimal | str | None, locale: str) -> str:
    if value is None or value == "":
        return ""
    return format_decimal(_trim(Decimal(value)), locale=locale, decimal_quantization=False)


def _day(value: dt.date | None, locale: str) -> str:
    return format_date(value, format="medium", locale=locale) if value else ""


def _period(start: dt.date | None, end: dt.date | None, locale: str) -> str:
    """A half-open period [start, end) shown with its last day included, as people read periods."""
    if not start or not end:
        return ""
    return f"{_day(start, locale)} \u2013 {_day(end - dt.timedelta(days=1), locale)}"


def _local_day(moment: dt.datetime | None, tz_name: str) -> dt.date | None:
    if moment is None:
        return None
    try:
        tz = zoneinfo.ZoneInfo(tz_name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = dt.UTC
    return moment.astimezone(tz).date()


# --- the template's context ------------------------------------------------------------------------


@dataclass
class BreakdownRow:
    description: str
    quantity: str
    unit_price: str
    amount: str


@dataclass
class Row:
    description: str
    detail: str
    quantity: str
    unit_price: str
    amount: str
    breakdown: list[BreakdownRow] = field(default_factory=list)
    kind: str = ""


@dataclass
class TaxRow:
    description: str
    base: str
    amount: str


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)


def _row(line: InvoiceLine, invoice: Invoice, currency: str, locale: str) -> Row:
    details = []
    if line.group:
        details.append(line.group)
    if (line.service_start, line.service_end) != (invoice.period_start, invoice.period_end) and line.service_start:
        details.append(_period(line.service_start, line.service_end, locale))
    breakdown = []
    if line.kind not in _BALANCE_KINDS:
        for item in line.breakdown or []:
            breakdown.append(
                BreakdownRow(
                    description=str(item.get("description", "")),
                    quantity=quantity(item.get("quantity"), locale),
                    unit_price=rate(item.get("unit_price"), currency, locale),
                    amount=money(item.get("amount"), currency, locale),
                )
            )
    return Row(
        description=line.description,
        detail=" · ".join(details),
        quantity=quantity(line.quantity, locale),
        unit_price=rate(line.unit_price, currency, locale),
        amount=money(line.amount, currency, locale),
        breakdown=breakdown,
        kind=line.kind,
    )


def invoice_context(invoice: Invoice) -> dict:
    """Everything the template shows, formatted, from the invoice's stored lines and totals."""
    locale = invoice_locale()
    currency = invoice.currency
    customer = invoice.customer
    lines = list(invoice.lines.select_related("product").order_by("position"))
    sections: dict[object, Section] = {}
    adjustments: list[Row] = []
    taxes = [
        TaxRow(line.description, money(line.taxable_base, currency, locale), money(line.amount, currency, locale))
        for line in lines
        if line.kind == LineKind.TAX
    ]
    for line in lines:
        if line.kind in _BALANCE_KINDS:
            adjustments.append(_row(line, invoice, currency, locale))
            continue
        if line.kind == LineKind.TAX:
            continue
        if line.product_id is not None:
            key, title = line.product_id, line.product.name
        else:
            key, title = line.kind, line.get_kind_display()
        sections.setdefault(key, Section(title=title)).rows.append(_row(line, invoice, currency, locale))
    adjustments_total = sum((line.amount for line in lines if line.kind in _BALANCE_KINDS), Decimal(0))
    return {
        "invoice": invoice,
        "seller": seller(),
        "customer": customer,
        "number": invoice.number or "",
        "currency": currency,
        "issue_date": _day(_local_day(invoice.finalized_at, customer.timezone), locale),
        "due_date": _day(invoice.due_date, locale),
        "service_period": _period(invoice.period_start, invoice.period_end, locale),
        "sections": list(sections.values()),
        "adjustments": adjustments,
        "subtotal": money(invoice.subtotal, currency, locale),
        "adjustments_total": money(adjustments_total, currency, locale),
        "total": money(invoice.total, currency, locale),
        "taxes": taxes,
        "tax_total": money(invoice.tax_total, currency, locale),
        "tax_exempt_reason": customer.tax_exempt_reason if customer.tax_exempt else "",
        "off_cycle": invoice.kind == InvoiceKind.OFF_CYCLE,
        "opening": invoice.kind == InvoiceKind.OPENING,
        # Negative: fees billed in advance given back beyond what the period cost.
        "is_credit": invoice.total < 0,
        "credit_due": money(-invoice.total, currency, locale),
        "is_paid": invoice.status == InvoiceStatus.PAID,
        "is_void": invoice.status == InvoiceStatus.VOID,
        "paid_date": _day(_local_day(invoice.paid_at, customer.timezone), locale),
        "void_date": _day(_local_day(invoice.voided_at, customer.timezone), locale),
        "template_version": TEMPLATE_VERSION,
    }


# --- rendering --------------------------------------------------------------------------------------


@cache
def _font_config():
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@cache
def _stylesheet():
    """The template's CSS, parsed (and its selectors compiled) once per process: about a sixth of a render's CPU."""
    import weasyprint
    from django.template.loader import get_template

    css = get_template(STYLESHEET_NAME).template.source
    return weasyprint.CSS(string=css, font_config=_font_config(), url_fetcher=_no_network)


def _no_network(url: str, *args, **kwargs):
    """WeasyPrint's URL fetcher, restricted: the invoice needs nothing from outside (CSS is inline)."""
    if url.startswith("data:"):
        from weasyprint import default_url_fetcher

        return default_url_fetcher(url, *args, **kwargs)
    raise ValueError(f"invoice PDFs fetch nothing: refused {url[:80]}")


def _check_renderable(invoice: Invoice) -> None:
    if invoice.status not in _DOCUMENT_STATUSES or not invoice.number:
        raise Conflict(
            f"invoice {invoice} is {invoice.status}"
            f"{'' if invoice.number else ' without a number'}; only a numbered, finalized invoice has a PDF",
            code="not_renderable",
        )


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as PDF bytes (A4). Refuses a draft, and a finalized invoice without a number (zero total)."""
    import weasyprint

    invoice = Invoice.objects.select_related("customer").get(pk=invoice.pk)
    _check_renderable(invoice)
    html = render_to_string(TEMPLATE_NAME, invoice_context(invoice))
    document = weasyprint.HTML(string=html, base_url=str(settings.BASE_DIR), url_fetcher=_no_network)
    pdf = document.write_pdf(stylesheets=[_stylesheet()], font_config=_font_config())
    _freeze_heap_once()
    return pdf


_heap_frozen = False


def _freeze_heap_once() -> None:
    """After a process's first render, move everything alive (Django, WeasyPrint, the fonts, the parsed
    stylesheet) out of the garbage collector's sight. A render allocates enough to set off full collections,
    and each one walked that whole long-lived heap: about 100 ms on one render in three, twice the render."""
    global _heap_frozen
    if not _heap_frozen:
        gc.collect()
        gc.freeze()
        _heap_frozen = True


def invoice_document_store(invoice: Invoice) -> InvoiceDocument:
    """The invoice's stored PDF for its current status, rendered and saved the first time; afterwards the same
    document is returned. Paying or voiding the invoice makes a new one (with the PAID or VOID mark) beside
    the earlier ones, which are kept: the latest is the invoice's current document.

    Rendering runs outside any lock; the invoice row is then locked while the file and its record are written,
    so two workers racing on one invoice store one document (the loser's bytes are dropped).
    """
    status = Invoice.objects.filter(pk=invoice.pk).values_list("status", flat=True).first()
    existing = InvoiceDocument.objects.filter(invoice_id=invoice.pk, invoice_status=status).first()
    if existing is not None:
        return existing
    pdf = render_invoice_pdf(invoice)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        # Paid or voided while rendering: the bytes still show the status they were rendered for, and are
        # kept as that status's document; the render queued by the payment or void makes the next one.
        existing = InvoiceDocument.objects.filter(invoice_id=locked.pk, invoice_status=status).first()
        if existing is not None:
            return existing
        document = InvoiceDocument(
            invoice=locked,
            sha256=hashlib.sha256(pdf).hexdigest(),
            size=len(pdf),
            rendered_at=timezone.now(),
            template_version=TEMPLATE_VERSION,
            invoice_status=status,
        )
        name = invoice_document_path_for(locked, status)
        storage = document.file.storage
        if storage.exists(name):  # left by an attempt whose transaction rolled back: no record points at it
            storage.delete(name)
        document.file.save(name, ContentFile(pdf), save=False)
        try:
            document.save()
        except Exception:
            storage.delete(document.file.name)
            raise
    return document


def invoice_document_path_for(invoice: Invoice, status: str | None = None) -> str:
    status = status or invoice.status
    suffix = "" if status == InvoiceStatus.FINALIZED else f"-{status}"
    return f"invoices/{invoice.number}{suffix}.pdf"


__all__ = ["invoice_context", "invoice_document_store", "render_invoice_pdf"]
