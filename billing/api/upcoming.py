"""The upcoming invoice of a contract: its current period's invoice as the period close would make it now.

It lives in billing because it is the invoice's own dry run (`billing.services.upcoming`); billing sits above
usage and contracts, which it reads. The lines have the shape of a stored invoice's lines (`InvoiceLineOutput`),
so a client reads an upcoming invoice and the invoice it becomes with the same code.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from billing.api.invoices import InvoiceLineOutput, money_text
from billing.services.upcoming import ESTIMATE_NOTE, UpcomingInvoice, invoice_upcoming
from catalog.api.fields import amount_output
from contracts import selectors as contract_selectors
from contracts.services.clocks import customer_now
from revops.api.views import ApiView
from revops.models import ApiScope


class UpcomingInvoiceOutput(serializers.Serializer):
    contract = serializers.IntegerField()
    currency = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="exclusive")
    as_of = serializers.DateTimeField(help_text="usage measured up to this time (the customer's now)")
    note = serializers.CharField(help_text="what the figures are: an estimate of the invoice so far")
    lines = InvoiceLineOutput(many=True, help_text="in the order the invoice will print them")
    subtotal = amount_output(help_text="the charges, before commitments, credits and tax")
    tax_total = amount_output(help_text="the tax lines' sum")
    total = amount_output(help_text="what would be due: the sum of the line amounts")


def upcoming_data(upcoming: UpcomingInvoice) -> dict:
    invoice = upcoming.invoice
    return UpcomingInvoiceOutput(
        {
            "contract": upcoming.contract.pk,
            "currency": invoice.currency,
            "period_start": upcoming.period.start,
            "period_end": upcoming.period.end,
            "as_of": upcoming.as_of,
            "note": ESTIMATE_NOTE,
            "lines": upcoming.lines,
            "subtotal": money_text(invoice.subtotal, invoice.currency),
            "tax_total": money_text(invoice.tax_total, invoice.currency),
            "total": money_text(invoice.total, invoice.currency),
        }
    ).data


class UpcomingInvoiceApi(ApiView):
    """The invoice the contract's current period would get so far (the period containing the customer's now,
    its test clock's time if it has one): the same lines and totals the period close computes, on the usage
    measured up to now. Stores nothing and draws no balance down."""

    required_scope = ApiScope.READ

    @extend_schema(operation_id="contracts_upcoming_invoice", responses=UpcomingInvoiceOutput, tags=["contracts"])
    def get(self, request, pk: int):
        contract = contract_selectors.contract_get(pk=pk)
        return Response(upcoming_data(invoice_upcoming(contract=contract, as_of=customer_now(contract.customer))))
