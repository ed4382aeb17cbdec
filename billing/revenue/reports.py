"""The two finance reports: monthly revenue (billed, recognized, deferred) and the month-end close summary.

Figures are per currency (currencies are never added), as known now: a period invoiced after its month
ended still counts in the month it was consumed. Months are calendar months in UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum

from billing.credit_notes import CreditNote
from billing.models import Invoice, InvoiceLine, InvoiceStatus, LineKind
from billing.revenue.flows import monthly_flows
from billing.revenue.split import months_between, next_month
from revops.errors import ValidationError
from revops.money import ZERO, round_amount

MAX_MONTHS = 120
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str | None, *, field_name: str) -> dt.date:
    """'2026-03' -> 2026-03-01; anything else is refused with the field named."""
    match = _MONTH.match(text or "")
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise ValidationError(f"give a month as YYYY-MM (e.g. 2026-03), not {text!r}", field=field_name)
    return dt.date(int(match[1]), int(match[2]), 1)


def parse_range(first: str | None, last: str | None) -> tuple[dt.date, dt.date]:
    start = parse_month(first, field_name="from")
    end = parse_month(last, field_name="to")
    if end < start:
        raise ValidationError("the range ends before it starts: 'to' must not be before 'from'", field="to")
    if len(months_between(start, end)) > MAX_MONTHS:
        raise ValidationError(f"a report covers at most {MAX_MONTHS} months", field="to")
    return start, end


def _bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(month, dt.time(), tzinfo=dt.UTC)
    return start, dt.datetime.combine(next_month(month), dt.time(), tzinfo=dt.UTC)


# --- the monthly revenue report ---------------------------------------------------------------------------


@dataclass
class Figures:
    billed: Decimal = ZERO  # invoices finalized in the month
    reversed: Decimal = ZERO  # voids and credit notes in the month (negative)
    recognized: Decimal = ZERO
    deferred: Decimal = ZERO  # at the month's end: billed and reversed to date less recognized to date


@dataclass
class CurrencyRevenue:
    currency: str
    months: dict[dt.date, Figures] = field(default_factory=dict)
    products: dict[dt.date, dict[str, Figures]] = field(default_factory=dict)
    totals: Figures = field(default_factory=Figures)  # billed/reversed/recognized over the range; deferred at its end
    product_totals: dict[str, Figures] = field(default_factory=dict)


def revenue_report(*, first: dt.date, last: dt.date) -> list[CurrencyRevenue]:
    """Billed, reversed, recognized and deferred revenue for each month from `first` to `last`, per
    currency, in total and by product."""
    months = months_between(first, last)
    by_currency: dict[str, CurrencyRevenue] = {}
    opening: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # deferred before the range
    flows: dict[tuple[str, str, dt.date], Figures] = defaultdict(Figures)
    for (currency, product), by_month in monthly_flows().items():
        report = by_currency.setdefault(currency, CurrencyRevenue(currency))
        report.product_totals.setdefault(product, Figures())
        for month, (billed, reversed_, recognized) in by_month.items():
            if month < first:
                opening[(currency, product)] += billed + reversed_ - recognized
            elif month <= last:
                flows[(currency, product, month)] = Figures(billed, reversed_, recognized)
    for report in by_currency.values():
        balance = ZERO
        product_balance = {p: opening[(report.currency, p)] for p in report.product_totals}
        balance = sum(product_balance.values(), ZERO)
        for month in months:
            total = Figures()
            report.products[month] = {}
            for product in sorted(report.product_totals):
                flow = flows.get((report.currency, product, month), Figures())
                product_balance[product] += flow.billed + flow.reversed - flow.recognized
                row = Figures(flow.billed, flow.reversed, flow.recognized, product_balance[product])
                report.products[month][product] = row
                grand = report.product_totals[product]
                grand.billed += row.billed
                grand.reversed += row.reversed
                grand.recognized += row.recognized
                grand.deferred = row.deferred
                total.billed += row.billed
                total.reversed += row.reversed
                total.recognized += row.recognized
            balance += total.billed + total.reversed - total.recognized
            total.deferred = balance
            report.months[month] = total
            report.totals.billed += total.billed
            report.totals.reversed += total.reversed
            report.totals.recognized += total.recognized
            report.totals.deferred = balance
    return [by_currency[c] for c in sorted(by_currency)]


def money_text(value: Decimal, currency: str) -> str:
    return str(round_amount(value, currency) + 0)  # + 0: never print -0.00


REVENUE_CSV_HEADER = ["currency", "month", "product", "billed", "reversed", "recognized", "deferred_at_month_end"]


def revenue_report_csv(reports: list[CurrencyRevenue]) -> str:
    """One row per currency, month and product, then the month's total (product TOTAL); at the end of
    each currency, the range's totals (month TOTAL: deferred is at the range's end)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REVENUE_CSV_HEADER)
    for report in reports:

        def row(month: str, product: str, f: Figures, c: str = report.currency) -> list[str]:
            return [c, month, product, *(money_text(v, c) for v in (f.billed, f.reversed, f.recognized, f.deferred))]

        for month, total in report.months.items():
            for product, figures in report.products[month].items():
                writer.writerow(row(f"{month:%Y-%m}", product, figures))
            writer.writerow(row(f"{month:%Y-%m}", "TOTAL", total))
        for product in sorted(report.product_totals):
            writer.writerow(row("TOTAL", product, report.product_totals[product]))
        writer.writerow(row("TOTAL", "TOTAL", report.totals))
    return out.getvalue()


# --- the month-end close summary --------------------------------------------------------------------------


@dataclass
class MonthEnd:
    month: dt.date
    invoices: list[dict]  # status, currency, count, total
    products: list[dict]  # currency, product, amount
    pricing_models: list[dict]  # currency, pricing_model, amount
    corrections: list[dict]
    credit_notes: list[dict]
    voids: list[dict]


def month_end_summary(*, month: dt.date) -> MonthEnd:
    """The month's close: invoices finalized in it by their status now (and drafts of periods ended by its
    end, still to finalize), its finalized and unvoided lines by product and by pricing model, the late-usage
    corrections it billed, and the credit notes and voids issued in it."""
    start, end = _bounds(month)
    finalized = Invoice.objects.filter(finalized_at__gte=start, finalized_at__lt=end)
    drafts = Invoice.objects.filter(status=InvoiceStatus.DRAFT, period_end__lte=next_month(month))
    invoices = [
        {"status": r["status"], "currency": r["currency"], "count": r["count"], "total": r["total"]}
        for query in (finalized, drafts)
        for r in query.values("status", "currency").annotate(count=Count("pk"), total=Sum("total"))
    ]
    invoices.sort(key=lambda r: (r["currency"], InvoiceStatus.values.index(r["status"])))
    lines = InvoiceLine.objects.filter(invoice__in=finalized.exclude(status=InvoiceStatus.VOID))
    products = [
        {"currency": r["invoice__currency"], "product": r["product__code"] or f"({r['kind']})", "amount": r["amount"]}
        for r in lines.values("invoice__currency", "product__code", "kind").annotate(amount=Sum("amount"))
    ]
    products = _merge(products, "product")
    models = [
        {
            "currency": r["invoice__currency"],
            "pricing_model": r["pricing_model"] or "(none)",
            "amount": r["amount"],
        }
        for r in lines.values("invoice__currency", "pricing_model").annotate(amount=Sum("amount"))
    ]
    models = _merge(models, "pricing_model")
    corrections = [
        {
            "currency": line.invoice.currency,
            "invoice": line.invoice.number or f"#{line.invoice_id}",
            "customer": line.invoice.customer.external_id,
            "product": line.product.code if line.product else "",
            "description": line.description,
            "service_start": line.service_start,
            "service_end": line.service_end,
            "amount": line.amount,
        }
        for line in lines.filter(kind=LineKind.CORRECTION)
        .select_related("invoice__customer", "product")
        .order_by("invoice__currency", "invoice__finalized_at", "position")
    ]
    credit_notes = [
        {
            "currency": note.currency,
            "number": note.number,
            "invoice": note.invoice.number,
            "customer": note.invoice.customer.external_id,
            "total": note.total,
            "reason": note.reason,
        }
        for note in CreditNote.objects.filter(issued_at__gte=start, issued_at__lt=end)
        .select_related("invoice__customer")
        .order_by("currency", "issued_at", "pk")
    ]
    voids = [
        {
            "currency": invoice.currency,
            "invoice": invoice.number or f"#{invoice.pk}",
            "customer": invoice.customer.external_id,
            "total": invoice.total,
            "reason": invoice.void_reason,
        }
        for invoice in Invoice.objects.filter(status=InvoiceStatus.VOID, voided_at__gte=start, voided_at__lt=end)
        .select_related("customer")
        .order_by("currency", "voided_at", "pk")
    ]
    return MonthEnd(month, invoices, products, models, corrections, credit_notes, voids)


def _merge(rows: list[dict], key: str) -> list[dict]:
    """Sum rows that share currency and `key` (lines without a product are told apart by kind first)."""
    merged: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in rows:
        merged[(r["currency"], r[key])] += r["amount"]
    return [{"currency": c, key: k, "amount": merged[(c, k)]} for c, k in sorted(merged)]


MONTH_END_CSV_HEADER = ["section", "currency", "key", "count", "amount", "detail"]


def month_end_csv(summary: MonthEnd) -> str:
    """Sections one after another: invoices (key: status), product, pricing_model, correction (key: the
    invoice), credit_note (key: its number), void (key: the invoice)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MONTH_END_CSV_HEADER)
    for r in summary.invoices:
        writer.writerow(["invoices", r["currency"], r["status"], r["count"], money_text(r["total"], r["currency"]), ""])
    for r in summary.products:
        writer.writerow(["product", r["currency"], r["product"], "", money_text(r["amount"], r["currency"]), ""])
    for r in summary.pricing_models:
        amount = money_text(r["amount"], r["currency"])
        writer.writerow(["pricing_model", r["currency"], r["pricing_model"], "", amount, ""])
    for r in summary.corrections:
        detail = f"{r['customer']} {r['product']} {r['service_start']} to {r['service_end']}: {r['description']}"
        writer.writerow(["correction", r["currency"], r["invoice"], "", money_text(r["amount"], r["currency"]), detail])
    for r in summary.credit_notes:
        detail = f"{r['customer']} on {r['invoice']}: {r['reason']}"
        writer.writerow(["credit_note", r["currency"], r["number"], "", money_text(r["total"], r["currency"]), detail])
    for r in summary.voids:
        detail = f"{r['customer']}: {r['reason']}"
        writer.writerow(["void", r["currency"], r["invoice"], "", money_text(r["total"], r["currency"]), detail])
    return out.getvalue()
