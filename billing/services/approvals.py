"""Voids and credit notes above the policy's threshold need approval.

`invoice_void_propose` and `credit_note_propose` are what the admin and the API call: they check the
change as the real service would (a dry run, rolled back), then make it at once when its amount is
within the threshold for the currency, or else ask for approval. A request goes stale when the invoice
changes state (paid, voided) or, for a credit note, when the invoice was credited since.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum

from billing.models import CreditNote, Invoice, InvoiceLine
from billing.services.credit_notes import credit_note_create, creditable
from billing.services.invoices import invoice_void
from revops.approvals import registry
from revops.approvals.models import ActionKind, ApprovalRequest
from revops.approvals.policy import above_threshold, policy_get
from revops.approvals.registry import money_text
from revops.approvals.services import dry_run, request_submit
from revops.money import ZERO, plain, round_amount


def _impact(invoice: Invoice, amount: Decimal) -> dict[str, Any]:
    return {
        "currency": invoice.currency,
        "rows": [
            {
                "customer": invoice.customer.external_id,
                "contract": invoice.contract_id,
                "difference": money_text(-amount, invoice.currency),
            }
        ],
        "difference": money_text(-amount, invoice.currency),
    }


@transaction.atomic
def invoice_void_propose(*, invoice: Invoice, reason: str, as_of: dt.datetime, actor) -> Invoice | ApprovalRequest:
    dry_run(invoice_void, invoice=invoice, reason=reason, as_of=as_of, actor=actor)
    invoice = Invoice.objects.select_related("customer").get(pk=invoice.pk)
    if not above_threshold(policy_get().void_thresholds, invoice.currency, invoice.total):
        return invoice_void(invoice=invoice, reason=reason, as_of=as_of, actor=actor)
    return request_submit(
        kind=ActionKind.INVOICE_VOID,
        target=invoice,
        target_label=f"invoice {invoice.number or invoice.pk} ({plain(invoice.total)} {invoice.currency})",
        payload={"invoice_id": invoice.pk, "reason": reason},
        diff=[
            {
                "item": f"invoice {invoice.number or invoice.pk}",
                "field": "status",
                "before": invoice.status,
                "after": "void",
            },
            {
                "item": f"invoice {invoice.number or invoice.pk}",
                "field": "amount owed",
                "before": plain(invoice.total),
                "after": "0",
            },
        ],
        impact=_impact(invoice, invoice.total),
        actor=actor,
        reason=reason,
        effective_date=as_of.date(),
        as_of=as_of,
    )


def _void_snapshot(payload: dict[str, Any]) -> dict[str, Any]:
    invoice = Invoice.objects.get(pk=payload["invoice_id"])
    return {"status": invoice.status, "total": plain(invoice.total)}


def _void_apply(payload: dict[str, Any], *, actor, as_of: dt.datetime, reason: str) -> str:
    invoice = invoice_void(
        invoice=Invoice.objects.get(pk=payload["invoice_id"]), reason=reason, as_of=as_of, actor=actor
    )
    return f"invoice {invoice.number or invoice.pk} is void"


@transaction.atomic
def credit_note_propose(
    *,
    invoice: Invoice,
    reason: str,
    as_of: dt.datetime,
    actor,
    lines: Sequence[tuple[InvoiceLine, Decimal]] | None = None,
) -> CreditNote | ApprovalRequest:
    dry_run(credit_note_create, invoice=invoice, reason=reason, as_of=as_of, actor=actor, lines=lines)
    invoice = Invoice.objects.select_related("customer").get(pk=invoice.pk)
    chosen = lines if lines is not None else [(line, creditable(line)) for line in invoice.lines.filter(amount__gt=0)]
    amount = sum((round_amount(a, invoice.currency) for _, a in chosen), ZERO)
    if not above_threshold(policy_get().void_thresholds, invoice.currency, amount):
        return credit_note_create(invoice=invoice, reason=reason, as_of=as_of, actor=actor, lines=lines)
    label = f"invoice {invoice.number}"
    return request_submit(
        kind=ActionKind.CREDIT_NOTE,
        target=invoice,
        target_label=f"credit note of {plain(amount)} {invoice.currency} on {label}",
        payload={
            "invoice_id": invoice.pk,
            "reason": reason,
            "lines": None if lines is None else [[line.pk, plain(a)] for line, a in lines],
        },
        diff=[
            {"item": f"{label} line {line.position}", "field": "credited", "before": None, "after": plain(a)}
            for line, a in chosen
            if a > 0
        ],
        impact=_impact(invoice, amount),
        actor=actor,
        reason=reason,
        effective_date=as_of.date(),
        as_of=as_of,
    )


def _note_snapshot(payload: dict[str, Any]) -> dict[str, Any]:
    invoice = Invoice.objects.get(pk=payload["invoice_id"])
    credited = invoice.credit_notes.aggregate(total=Sum("total"))["total"] or ZERO
    return {"status": invoice.status, "credited": plain(credited)}


def _note_apply(payload: dict[str, Any], *, actor, as_of: dt.datetime, reason: str) -> str:
    lines = None
    if payload["lines"] is not None:
        by_pk = InvoiceLine.objects.in_bulk([pk for pk, _ in payload["lines"]])
        lines = [(by_pk[pk], Decimal(a)) for pk, a in payload["lines"]]
    note = credit_note_create(
        invoice=Invoice.objects.get(pk=payload["invoice_id"]), reason=reason, as_of=as_of, actor=actor, lines=lines
    )
    return f"credit note {note.number} of {plain(note.total)} {note.currency}"


registry.register(ActionKind.INVOICE_VOID, apply=_void_apply, snapshot=_void_snapshot)
registry.register(ActionKind.CREDIT_NOTE, apply=_note_apply, snapshot=_note_snapshot)
