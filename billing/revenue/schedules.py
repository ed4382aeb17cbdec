"""Making revenue schedules: one per line of a finalized invoice, when it is finalized (or by the backfill).

- Subscription and recurring fees, usage, late-usage corrections, minimum true-ups, one-time charges,
  and the negative commitment and credit lines: ratably by day over the line's service period, split
  into calendar months (billing/revenue/split.py). Usage is split by day too, not by each day's measured
  usage: an invoice's usage line is one figure for its period, and ratable splitting needs nothing that
  can change after the invoice is frozen.
- A prepaid commitment's purchase (kind commit_purchase) gets no stored entries: it is deferred when
  billed and recognized as it is used and when it expires, which the reports read from the invoices
  its draw-downs paid and from its ledger (billing/revenue/recognition.py).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from billing.models import Invoice, InvoiceLine, InvoiceStatus, LineKind
from billing.revenue.models import RevenueEntry
from billing.revenue.split import split_by_day

SCHEDULED = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID, InvoiceStatus.VOID)


def _entries(line: InvoiceLine, invoice: Invoice) -> list[RevenueEntry]:
    start = line.service_start or invoice.period_start
    end = line.service_end or invoice.period_end
    return [
        RevenueEntry(line=line, month=month, amount=share)
        for month, share in split_by_day(line.amount, start, end, invoice.currency)
    ]


@transaction.atomic
def revenue_schedule_create(*, invoice: Invoice) -> list[RevenueEntry]:
    """The schedules of `invoice`'s lines that have none yet (idempotent: a second call makes nothing).
    A draft has none: its lines still change."""
    if invoice.status not in SCHEDULED:
        return []
    missing = (
        invoice.lines.exclude(kind=LineKind.COMMIT_PURCHASE).filter(revenue_entries__isnull=True).order_by("position")
    )
    return RevenueEntry.objects.bulk_create(revenue_entries_of(invoice, missing))


def revenue_entries_of(invoice: Invoice, lines) -> list[RevenueEntry]:
    """The unsaved schedule entries of `lines` (stored lines of the finalized `invoice`); a commitment's
    purchase has none. The period close stores many invoices' entries with one insert."""
    return [entry for line in lines if line.kind != LineKind.COMMIT_PURCHASE for entry in _entries(line, invoice)]


def invoices_missing_schedules() -> QuerySet[Invoice]:
    """Finalized (paid, void) invoices with a line that should have a schedule and has none."""
    unscheduled = InvoiceLine.objects.filter(invoice=OuterRef("pk"), revenue_entries__isnull=True).exclude(
        kind=LineKind.COMMIT_PURCHASE
    )
    return Invoice.objects.filter(Exists(unscheduled), status__in=SCHEDULED).order_by("finalized_at", "pk")
