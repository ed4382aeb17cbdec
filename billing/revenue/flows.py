"""Each month's billed, reversed and recognized revenue per currency and product, summed in the database.

The monthly report used to read every finalized line into Python; a year of a large book is millions of
rows. Here the database sums what can be summed (a fixed number of queries, whatever the book's size), and
only the few lines whose recognition needs per-line arithmetic are worked line by line, with the very
rules of billing/revenue/recognition.py, so both give identical figures:

- billed: every line in the month its invoice was finalized;
- reversed: credit note lines in the month issued, and a voided line's amount less its credits in the
  month voided;
- recognized, summed in SQL: the stored schedules of lines no credit note touched, cut at a void (months
  up to the void's stay and the void's month gives them back, later months are dropped);
- recognized, line by line: lines with a credit note (each later month loses its rounded share of the
  credit, which a sum cannot reproduce) and prepaid commitment purchases (released as their draw-downs
  are recognized, which the sums above give per commitment balance, and at expiry).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth

from billing.credit_notes import CreditNoteLine
from billing.models import InvoiceLine, InvoiceStatus, LineKind
from billing.revenue.models import RevenueEntry
from billing.revenue.recognition import Entries, commitments_release, line_figures
from billing.revenue.schedules import SCHEDULED

Key = tuple[str, str]  # (currency, product: its code, or the line's kind in brackets)
# (currency, product) -> month -> [billed, reversed, recognized]
Flows = dict[Key, dict[dt.date, list[Decimal]]]
BILLED, REVERSED, RECOGNIZED = 0, 1, 2


def _label(code: str | None, kind: str) -> str:
    return code or f"({kind})"


def _month(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _grouped(rows: QuerySet, prefix: str) -> QuerySet:
    """Rows grouped by currency, product code and kind (the report's product), and month."""
    return rows.values(
        currency=F(f"{prefix}invoice__currency"), code=F(f"{prefix}product__code"), line_kind=F(f"{prefix}kind")
    )


def monthly_flows() -> Flows:
    """Every currency's and product's billed, reversed and recognized revenue by month, as known now."""
    flows: Flows = defaultdict(lambda: defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)]))

    def add(currency: str, product: str, month: dt.date | dt.datetime, column: int, amount: Decimal) -> None:
        flows[(currency, product)][_month(month)][column] += amount

    lines = InvoiceLine.objects.filter(invoice__status__in=SCHEDULED)
    utc = {"tzinfo": dt.UTC}
    for r in _grouped(lines, "").annotate(month=TruncMonth("invoice__finalized_at", **utc), total=Sum("amount")):
        add(r["currency"], _label(r["code"], r["line_kind"]), r["month"], BILLED, r["total"])

    credits = CreditNoteLine.objects.filter(invoice_line__invoice__status__in=SCHEDULED)
    for r in _grouped(credits, "invoice_line__").annotate(
        month=TruncMonth("credit_note__issued_at", **utc), total=Sum("amount")
    ):
        add(r["currency"], _label(r["code"], r["line_kind"]), r["month"], REVERSED, -r["total"])
    # A void reverses what credit notes had left of a line: its amount, less all its credits.
    voided = InvoiceLine.objects.filter(invoice__status=InvoiceStatus.VOID)
    for r in _grouped(voided, "").annotate(month=TruncMonth("invoice__voided_at", **utc), total=Sum("amount")):
        add(r["currency"], _label(r["code"], r["line_kind"]), r["month"], REVERSED, -r["total"])
    for r in _grouped(credits.filter(invoice_line__invoice__status=InvoiceStatus.VOID), "invoice_line__").annotate(
        month=TruncMonth("invoice_line__invoice__voided_at", **utc), total=Sum("amount")
    ):
        add(r["currency"], _label(r["code"], r["line_kind"]), r["month"], REVERSED, r["total"])

    # Recognized, summed: schedules of lines without credit notes. Draw-downs of commitments (kind commit)
    # are kept apart by balance too: their commitment's purchase releases what they recognized.
    applied: dict[int, Entries] = defaultdict(list)
    credited = CreditNoteLine.objects.filter(invoice_line=OuterRef("line"))
    entries = RevenueEntry.objects.filter(line__invoice__status__in=SCHEDULED).exclude(Exists(credited))
    # A void keeps the months up to its own (an entry's month is a first day, so "up to the void's day"
    # is "up to its month") and drops the later ones.
    kept = entries.filter(
        ~Q(line__invoice__status=InvoiceStatus.VOID) | Q(month__lte=TruncDate("line__invoice__voided_at", **utc))
    )
    summed = (
        (_grouped(kept, "line__").annotate(balance=F("line__balance_id"), at=F("month")), 1),
        # ... and gives back, in its month, all the line had recognized up to then.
        (
            _grouped(kept.filter(line__invoice__status=InvoiceStatus.VOID), "line__").annotate(
                balance=F("line__balance_id"), at=TruncMonth("line__invoice__voided_at", **utc)
            ),
            -1,
        ),
    )
    for query, sign in summed:
        for r in query.annotate(total=Sum("amount")):
            add(r["currency"], _label(r["code"], r["line_kind"]), r["at"], RECOGNIZED, sign * r["total"])
            if r["line_kind"] == LineKind.COMMIT and r["balance"] is not None:
                applied[r["balance"]].append((_month(r["at"]), sign * r["total"]))

    # Recognized, line by line: credited lines and commitment purchases.
    one_by_one = lines.filter(
        Q(kind=LineKind.COMMIT_PURCHASE) | Exists(CreditNoteLine.objects.filter(invoice_line=OuterRef("pk")))
    )
    figures = line_figures(one_by_one)
    purchases = [f for f in figures if f.kind == LineKind.COMMIT_PURCHASE]
    for f in figures:
        if f.kind == LineKind.COMMIT and f.balance_id is not None:
            applied[f.balance_id].extend(f.recognized)
    commitments_release(purchases, applied)
    for f in figures:
        for month, amount in f.recognized:
            add(f.currency, f.product, month, RECOGNIZED, amount)
    return flows
