"""What each invoice line bills and recognizes, month by month: the stored schedule plus what came later.

The rules (README, "Revenue recognition and finance reports"):

- A line's stored schedule (billing/revenue/schedules.py) is its recognition as finalized.
- A credit note on a line, in the month it is issued (C), takes its amount c off the line: the schedule's
  months after C each lose their share of c (rounded; the remainder falls in C), and C loses the part of
  c that months up to C had recognized. Billed revenue falls by c in C.
- A void, in its month (V), reverses all the line recognized up to V, in V, and drops its later months;
  billed revenue falls by what was left of the line in V.
- A prepaid commitment's purchase (commit_purchase) is deferred when billed. It is recognized as it is
  drawn down, in the period each draw-down paid for, and what expires unused is recognized in the month
  its ledger expiry entry is dated. A rollover moves money into a new balance: it stays deferred, and
  that balance's draw-downs and expiry count for the original purchase.

Why the negative "commitment applied" lines do not count twice, worked through:

    January: a 1,000 commitment is bought.    Invoice 1: commit_purchase  +1,000  (billed Jan, deferred)
    February: 100 of usage, paid from it.     Invoice 2: usage              +100  (recognized Feb)
                                                         commitment applied -100  (recognized Feb)
    The draw-down releases 100 of the purchase:          commit_purchase    +100  (recognized Feb)
    February recognizes 100 in all (100 - 100 + 100); 900 stays deferred until used or expired.

So each draw-down is read from the "commitment applied" line that recorded it (one line per balance and
invoice, written from the ledger draw-down entry), and the purchase releases exactly what that line
recognized, month by month and including any reversal when the paying invoice is voided. Credits (free
grants) have no purchase: their applied lines lower revenue.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet

from billing.credit_notes import CreditNoteLine
from billing.models import InvoiceLine, InvoiceStatus, LineKind
from billing.revenue.models import RevenueEntry
from billing.revenue.schedules import SCHEDULED
from billing.revenue.split import cuts_of, month_of
from contracts.models import Balance, BalanceKind, EntryKind, LedgerEntry
from revops.money import ZERO

Entries = list[tuple[dt.date, Decimal]]


def month_at(moment: dt.datetime) -> dt.date:
    """The calendar month (UTC, the reports' time zone) a moment falls in."""
    return month_of(moment.astimezone(dt.UTC).date())


@dataclass
class LineRevenue:
    line_id: int
    invoice_id: int
    currency: str
    product: str  # the product's code, or the line's kind in brackets when it has no product
    kind: str
    billed: Entries = field(default_factory=list)  # when finalized
    reversed: Entries = field(default_factory=list)  # credit notes and voids: negative
    recognized: Entries = field(default_factory=list)
    amount: Decimal = ZERO
    balance_id: int | None = None  # the balance a commitment line draws down or a purchase bought
    credits: Entries = field(default_factory=list)  # (month issued, amount credited), oldest first
    voided: dt.date | None = None  # the month its invoice was voided in


def _credit(figures: LineRevenue, month: dt.date, amount: Decimal, remaining: Decimal) -> None:
    if figures.kind != LineKind.COMMIT_PURCHASE:
        later = [(m, a) for m, a in figures.recognized if m > month]
        cuts = cuts_of(later, amount, remaining, figures.currency)
        kept = [(m, a) for m, a in figures.recognized if m <= month]
        figures.recognized = [
            *kept,
            (month, -(amount - sum(cuts, ZERO))),
            *((m, a - cut) for (m, a), cut in zip(later, cuts, strict=True)),
        ]
    # A refund of a prepaid commitment gives back money not yet earned: it lowers what is deferred.
    figures.reversed.append((month, -amount))


def _void(figures: LineRevenue, month: dt.date, remaining: Decimal) -> None:
    kept = [(m, a) for m, a in figures.recognized if m <= month]
    figures.recognized = [*kept, (month, -sum((a for _, a in kept), ZERO))]
    figures.reversed.append((month, -remaining))


def _settle(figures: LineRevenue, amount: Decimal, credits: Entries, voided: dt.date | None) -> None:
    remaining = amount
    for month, credited in credits:
        _credit(figures, month, credited, remaining)
        remaining -= credited
    if voided is not None:
        _void(figures, voided, remaining)


def _commit_roots() -> dict[int, int]:
    """Every commitment balance's original: itself, or the one it was rolled over from, and so on."""
    parent = dict(Balance.objects.filter(kind=BalanceKind.COMMIT).values_list("pk", "rolled_over_from_id"))
    roots = {}
    for pk in parent:
        root = pk
        while parent.get(root) is not None:
            root = parent[root]
        roots[pk] = root
    return roots


def lines_revenue(currency: str | None = None) -> list[LineRevenue]:
    """Every finalized (paid, voided) invoice line's billed, reversed and recognized amounts by month.

    Line by line, so for one line's story or a small book; the monthly report sums in the database instead
    (billing/revenue/flows.py), and its tests check it against this."""
    lines = InvoiceLine.objects.filter(invoice__status__in=SCHEDULED)
    if currency is not None:
        lines = lines.filter(invoice__currency=currency)
    figures = line_figures(lines)
    applied: dict[int, Entries] = defaultdict(list)
    for line in figures:
        if line.kind == LineKind.COMMIT and line.balance_id is not None:
            applied[line.balance_id].extend(line.recognized)
    commitments_release([line for line in figures if line.kind == LineKind.COMMIT_PURCHASE], applied)
    return figures


def line_figures(lines: QuerySet[InvoiceLine]) -> list[LineRevenue]:
    """The figures of `lines` (finalized ones), settled for their credit notes and void; a commitment
    purchase's are settled by commitments_release, once its draw-downs are known."""
    rows = list(
        lines.order_by("invoice__finalized_at", "invoice_id", "position").values(
            "pk",
            "invoice_id",
            "kind",
            "amount",
            "balance_id",
            "product__code",
            "invoice__currency",
            "invoice__status",
            "invoice__finalized_at",
            "invoice__voided_at",
        )
    )
    ids = [row["pk"] for row in rows]
    stored: dict[int, Entries] = defaultdict(list)
    for line_id, month, amount in (
        RevenueEntry.objects.filter(line_id__in=ids).order_by("month").values_list("line_id", "month", "amount")
    ):
        stored[line_id].append((month, amount))
    credits: dict[int, Entries] = defaultdict(list)
    for line_id, issued_at, amount in (
        CreditNoteLine.objects.filter(invoice_line_id__in=ids)
        .order_by("credit_note__issued_at", "pk")
        .values_list("invoice_line_id", "credit_note__issued_at", "amount")
    ):
        credits[line_id].append((month_at(issued_at), amount))

    result: list[LineRevenue] = []
    for row in rows:
        figures = LineRevenue(
            line_id=row["pk"],
            invoice_id=row["invoice_id"],
            currency=row["invoice__currency"],
            product=row["product__code"] or f"({row['kind']})",
            kind=row["kind"],
            billed=[(month_at(row["invoice__finalized_at"]), row["amount"])],
            recognized=list(stored[row["pk"]]),
            amount=row["amount"],
            balance_id=row["balance_id"],
            credits=credits[row["pk"]],
            voided=month_at(row["invoice__voided_at"]) if row["invoice__status"] == InvoiceStatus.VOID else None,
        )
        result.append(figures)
        if row["kind"] != LineKind.COMMIT_PURCHASE:
            _settle(figures, figures.amount, figures.credits, figures.voided)
    return result


def commitments_release(purchases: list[LineRevenue], applied: dict[int, Entries]) -> None:
    """Recognize each commitment purchase as its balance (or one rolled over from it) is drawn down and
    expires, then settle it. `applied` is what the "commitment applied" lines recognized, by balance."""
    if not purchases:
        return
    roots = _commit_roots()
    released: dict[int, Entries] = defaultdict(list)
    for balance_id, entries in applied.items():
        if balance_id in roots:
            released[roots[balance_id]].extend((m, -a) for m, a in entries)
    for balance_id, at, amount in LedgerEntry.objects.filter(
        kind=EntryKind.EXPIRY, balance_id__in=list(roots)
    ).values_list("balance_id", "effective_at", "amount"):
        released[roots[balance_id]].append((month_at(at), -amount))
    seen: set[int] = set()
    for figures in purchases:
        root = roots.get(figures.balance_id)
        if root is not None and root not in seen:  # a commitment is billed once; never release it twice
            seen.add(root)
            figures.recognized = sorted(released[root])
        _settle(figures, figures.amount, figures.credits, figures.voided)
