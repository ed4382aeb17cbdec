"""Many contracts' period invoices computed and stored together: the period close's fast path.

A run's chunk (runs.py) hands over, in one transaction, the contracts whose one piece of work is a single
period: its draft computed (still in its grace) or its invoice finalized (grace over), new or an existing
draft. Every invoice's lines come from the same code as an invoice alone (`invoice_drafts`); what is done
once for all of them is the writing: the new invoices, their lines, their history, their revenue schedules
and their webhook events are each one insert, the numbers of a series are taken with one lock of its
counter, and the PDFs are queued a few per message. One contract at a time, those writes were two thirds
of the close's time.

What stays one contract at a time: drawing its commitments and credits down (row locks on its balances,
a savepoint so a contract that cannot be finalized gives back what it drew). A contract whose invoice
cannot be made is reported as it would be alone, and the others go on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from billing.revenue.models import RevenueEntry
from billing.revenue.schedules import revenue_entries_of
from billing.services.invoices import (
    invoice_drafts,
    line_rows,
    mark_finalized,
    new_invoice,
    queue_pdfs,
    reference_of,
    refuse_negative,
    reserve_numbers,
    series_of,
    set_totals,
)
from billing.services.opening import OPENING_REASON, opening_drafts
from billing.webhooks.services import webhook_emit_many
from contracts.models import Contract
from contracts.prefetch import batch_for
from revops.errors import Conflict, DomainError
from revops.history import stamp
from revops.periods import Period


@dataclass
class Work:
    contract: Contract
    period: Period
    finalize: bool  # grace over: finalize; otherwise (re)compute the draft
    invoice_id: int | None = None  # the period's existing draft, if any
    kind: str = InvoiceKind.PERIOD  # or an opening invoice (always new, always finalized)


@dataclass
class Result:
    created: bool = False  # a new invoice was made
    finalized: bool = False
    error: DomainError | None = None  # why the contract's invoice could not be made


@dataclass
class _Made:
    work: Work
    invoice: Invoice
    new: bool
    drafts: list


def invoices_close_many(works: list[Work], *, as_of: dt.datetime, actor: AbstractBaseUser | None) -> dict[int, Result]:
    """Compute or finalize each work's invoice; returns a result per contract id. Runs in the caller's
    transaction (the caller records the progress in it too); a database error leaves it to roll back."""
    assert connection.in_atomic_block, "the batch close writes many invoices: call it inside a transaction"
    results: dict[int, Result] = {}
    invoices = _existing_drafts(works, results) | _new_invoices(works)
    made: list[_Made] = []
    unmade: list[int] = []  # new drafts whose contract failed: removed, as a failed finalize leaves none
    for work in works:
        invoice = invoices.get(work.contract.pk)
        if invoice is None:
            continue
        try:
            drafts = _compute(work, invoice, as_of=as_of, actor=actor)
        except DomainError as exc:
            results[work.contract.pk] = Result(error=exc)
            if work.invoice_id is None:
                unmade.append(invoice.pk)
            continue
        if work.kind == InvoiceKind.OPENING and not drafts:  # nothing billed in advance: no opening invoice
            results[work.contract.pk] = Result()
            unmade.append(invoice.pk)
            continue
        made.append(_Made(work, invoice, new=work.invoice_id is None, drafts=drafts))
    if unmade:
        Invoice.objects.filter(pk__in=unmade, status=InvoiceStatus.DRAFT).delete()
    _store(made, as_of=as_of, actor=actor)
    for m in made:
        results[m.work.contract.pk] = Result(created=m.new, finalized=m.work.finalize)
    return results


def _existing_drafts(works: list[Work], results: dict[int, Result]) -> dict[int, Invoice]:
    """The works' existing drafts, locked. One finalized meanwhile (by staff, early) is left alone: a
    recompute has nothing to do, a finalize reports it as finalizing it alone would."""
    wanted = {w.invoice_id: w for w in works if w.invoice_id is not None}
    if not wanted:
        return {}
    # Locked in id order, as every batch locks them: two closes of overlapping contracts never deadlock.
    drafts = Invoice.objects.select_for_update().filter(pk__in=list(wanted), status=InvoiceStatus.DRAFT)
    locked = {invoice.pk: invoice for invoice in drafts.order_by("pk")}
    found = {}
    for invoice_id, work in wanted.items():
        invoice = locked.get(invoice_id)
        if invoice is None:
            message = f"invoice {invoice_id} is no longer a draft; only a draft can be finalized"
            results[work.contract.pk] = Result(error=Conflict(message, code="not_draft") if work.finalize else None)
            continue
        invoice.contract, invoice.customer = work.contract, work.contract.customer
        found[work.contract.pk] = invoice
    return found


def _new_invoices(works: list[Work]) -> dict[int, Invoice]:
    """Drafts for the periods with no invoice yet, one insert (a concurrent run that made one of them makes
    it fail on the one-invoice-per-period constraint: the caller then closes the contracts one by one)."""
    new = [new_invoice(w.contract, w.period, kind=w.kind) for w in works if w.invoice_id is None]
    Invoice.objects.bulk_create(new)
    return {invoice.contract_id: invoice for invoice in new}


def _compute(work: Work, invoice: Invoice, *, as_of: dt.datetime, actor) -> list:
    """The invoice's lines and totals. Finalizing draws the contract's balances down: under a savepoint, so
    a contract that cannot be computed gives back what it drew."""
    batch = batch_for(work.contract)
    draws = work.finalize and (batch is None or batch.has_balances(work.contract.pk))
    with transaction.atomic() if draws else contextlib.nullcontext():  # no savepoint when nothing is written
        make = opening_drafts if work.kind == InvoiceKind.OPENING else invoice_drafts
        drafts = make(work.contract, work.period, draw=draws, as_of=as_of, actor=actor, reference=reference_of(invoice))
        set_totals(invoice, drafts, as_of=as_of)
        if work.kind == InvoiceKind.OPENING:
            refuse_negative(invoice)
    return drafts


def _store(made: list[_Made], *, as_of: dt.datetime, actor) -> None:
    if not made:
        return
    redone = [m.invoice.pk for m in made if not m.new]
    if redone:  # an existing draft's earlier lines give way to the new ones
        InvoiceLine.objects.filter(invoice_id__in=redone).delete()
    lines = {m.invoice.pk: line_rows(m.invoice, m.drafts) for m in made}
    InvoiceLine.objects.bulk_create([line for rows in lines.values() for line in rows])
    finals = [m for m in made if m.work.finalize]
    _number(finals, as_of=as_of)
    _update(made)
    now = timezone.now()
    for m in made:
        reason = OPENING_REASON if m.work.kind == InvoiceKind.OPENING else "finalized"
        stamp(m.invoice, actor=actor, reason=reason if m.work.finalize else "computed")
    for new in (True, False):  # a new invoice's record says it was made, an existing draft's that it changed
        if group := [m.invoice for m in made if m.new is new]:
            Invoice.history.bulk_history_create(group, update=not new, default_date=now)
    if not finals:
        return
    RevenueEntry.objects.bulk_create(
        [entry for m in finals for entry in revenue_entries_of(m.invoice, lines[m.invoice.pk])]
    )
    webhook_emit_many(event_type="invoice.finalized", items=[m.invoice for m in finals], as_of=as_of)
    queue_pdfs([m.invoice.pk for m in finals if m.invoice.number])


def _number(finals: list[_Made], *, as_of: dt.datetime) -> None:
    """Numbers for the invoices with a total, a series' in one reservation (series in a fixed order, so two
    closes never wait on each other's counters crosswise); in the order the works came."""
    by_series: dict[str, list[Invoice]] = {}
    for m in finals:
        series = series_of(m.invoice, as_of)
        if m.invoice.total != 0:
            by_series.setdefault(series, []).append(m.invoice)
        mark_finalized(m.invoice, number=None, series=series, as_of=as_of)
    for series in sorted(by_series):
        group = by_series[series]
        for invoice, number in zip(group, reserve_numbers(series, len(group)), strict=True):
            invoice.number = number


_UPDATE = """
UPDATE billing_invoice AS i SET
    subtotal = v.subtotal, tax_total = v.tax_total, total = v.total, computed_at = v.computed_at,
    zero_total = v.zero_total, series = v.series, number = v.number, status = v.status,
    finalized_at = v.finalized_at, due_date = v.due_date
FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::numeric[], %s::timestamptz[], %s::boolean[],
            %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::date[])
     AS v(id, subtotal, tax_total, total, computed_at, zero_total, series, number, status, finalized_at, due_date)
WHERE i.id = v.id
"""


def _update(made: list[_Made]) -> None:
    """Totals, and for the finalized their number, dates and status, in one statement (after the lines: the
    database refuses lines on an invoice that is no longer a draft)."""
    invoices = [m.invoice for m in made]
    columns = [
        [i.pk for i in invoices],
        [i.subtotal for i in invoices],
        [i.tax_total for i in invoices],
        [i.total for i in invoices],
        [i.computed_at for i in invoices],
        [i.zero_total for i in invoices],
        [i.series for i in invoices],
        [i.number for i in invoices],
        [i.status for i in invoices],
        [i.finalized_at for i in invoices],
        [i.due_date for i in invoices],
    ]
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE, columns)
