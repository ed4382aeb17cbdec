"""Credit notes over the API: list an invoice's, issue one (whole invoice or chosen lines, with a reason)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from billing.api.invoices import InvoiceMoneyField, _invoice_get
from billing.models import CreditNote
from billing.services.approvals import credit_note_propose
from catalog.api.fields import rate_input, reason_input
from contracts.services.clocks import customer_now
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.approvals.api import ApprovalRequestOutput, pending
from revops.approvals.models import ApprovalRequest
from revops.errors import ValidationError


class CreditNoteLineInput(StrictInput):
    line = serializers.IntegerField(min_value=1, help_text="the invoice line's position on the invoice")
    amount = rate_input(help_text="how much of the line to credit, in the currency's minor unit")


class CreditNoteCreateInput(StrictInput):
    reason = reason_input(required=True)
    lines = CreditNoteLineInput(many=True, required=False, help_text="omit to credit everything still creditable")


class CreditNoteLineOutput(serializers.Serializer):
    invoice_line = serializers.IntegerField(source="invoice_line.position")
    description = serializers.CharField()
    amount = InvoiceMoneyField(currency_of=lambda line: line.credit_note.currency)


class CreditNoteOutput(serializers.Serializer):
    number = serializers.CharField()
    invoice = serializers.CharField(source="invoice.number")
    reason = serializers.CharField()
    currency = serializers.CharField()
    total = InvoiceMoneyField(currency_of=lambda note: note.currency)
    issued_at = serializers.DateTimeField()
    lines = CreditNoteLineOutput(many=True)


class InvoiceCreditNotesApi(ApiView):
    """Credit notes of an invoice: the finalized invoice never changes; corrections are credit notes."""

    @extend_schema(operation_id="credit_notes_list", responses=CreditNoteOutput(many=True), tags=["invoices"])
    def get(self, request, pk: int):
        notes = CreditNote.objects.filter(invoice=_invoice_get(pk)).prefetch_related("lines__invoice_line")
        return Response(CreditNoteOutput(notes.select_related("invoice"), many=True).data)

    @extend_schema(
        operation_id="credit_notes_create",
        request=CreditNoteCreateInput,
        responses={201: CreditNoteOutput, 202: ApprovalRequestOutput},
        tags=["invoices"],
    )
    def post(self, request, pk: int):
        invoice = _invoice_get(pk)
        data = CreditNoteCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        chosen = None
        if "lines" in data.validated_data:
            by_position = {line.position: line for line in invoice.lines.all()}
            chosen = []
            for index, item in enumerate(data.validated_data["lines"]):
                line = by_position.get(item["line"])
                if line is None:
                    raise ValidationError(f"the invoice has no line {item['line']}", field=f"lines.{index}.line")
                chosen.append((line, item["amount"]))
        note = credit_note_propose(
            invoice=invoice,
            reason=data.validated_data["reason"],
            as_of=customer_now(invoice.customer),
            actor=request.user,
            lines=chosen,
        )
        if isinstance(note, ApprovalRequest):  # above the threshold: waits for an approver
            return pending(note)
        return Response(CreditNoteOutput(note).data, status=status.HTTP_201_CREATED)
