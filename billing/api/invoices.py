"""Invoice API: list and read invoices; compute a contract's draft for a period; recompute a draft;
finalize, void and mark paid.

Every write is one service call (`billing.services.invoices`) as of the customer's now (its test clock's time if
it has one), with the caller as actor. Money is a decimal string with exactly its currency's minor-unit digits
("440.00").
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from billing.services import invoices as services
from billing.services.approvals import invoice_void_propose
from catalog.api.fields import IDEMPOTENCY, NamedChoiceField, decimal_output, reason_input
from contracts import selectors as contract_selectors
from contracts.services.clocks import customer_now
from revops import access
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.approvals.api import ApprovalRequestOutput, pending
from revops.approvals.models import ApprovalRequest
from revops.errors import NotFound, ValidationError
from revops.money import minor_unit

TAGS = ["invoices"]


def invoice_status(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="InvoiceStatus", choices=InvoiceStatus.choices, **kwargs)


def line_kind(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="InvoiceLineKind", choices=LineKind.choices, **kwargs)


def money_text(value: Decimal, currency: str) -> Decimal:
    """An invoice amount with its currency's minor-unit digits (400.000 stored -> 400.00 USD); never drops a digit."""
    quantum = minor_unit(currency)
    shown = value.quantize(quantum)
    return shown if shown == value else value


class InvoiceMoneyField(serializers.DecimalField):
    """A stored invoice amount out as a string in its currency's minor unit."""

    def __init__(self, *, currency_of: Callable[[Any], str], **kwargs: Any) -> None:
        self.currency_of = currency_of
        kwargs.setdefault("read_only", True)
        super().__init__(max_digits=None, decimal_places=None, source="*", **kwargs)

    def to_representation(self, obj):
        value = getattr(obj, self.field_name)
        return super().to_representation(money_text(value, self.currency_of(obj)))


def _invoice_currency(obj: Invoice) -> str:
    return obj.currency


def _line_currency(obj: InvoiceLine) -> str:
    return obj.invoice.currency


class InvoiceLineBreakdownOutput(serializers.Serializer):
    """One printed row under a line: amount = quantity x unit_price + flat_fee (decimal strings)."""

    description = serializers.CharField()
    quantity = serializers.CharField()
    unit_price = serializers.CharField()
    flat_fee = serializers.CharField()
    amount = serializers.CharField()
    tier = serializers.IntegerField(allow_null=True, required=False, help_text="1-based, for tiered prices")


class InvoiceLineOutput(serializers.ModelSerializer):
    kind = line_kind(read_only=True)
    product = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text="the product's code; null for a true-up"
    )
    quantity = decimal_output(allow_null=True, help_text="billable quantity, where the line has one")
    unit_price = decimal_output(allow_null=True)
    pricing_model = serializers.CharField(
        read_only=True,
        help_text="how the line's price is computed: flat, per_unit, graduated, volume, package, percentage or "
        "dimensional; empty where no price applies (commitments and credits applied, taxes, minimum true-ups)",
    )
    amount = InvoiceMoneyField(
        currency_of=_line_currency, help_text="rounded once to the minor unit; negative for commitments and credits"
    )
    breakdown = InvoiceLineBreakdownOutput(many=True, read_only=True)
    balance_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="the commitment or credit the line draws from"
    )
    tax_rate_id = serializers.IntegerField(read_only=True, allow_null=True, help_text="tax lines: the rate applied")
    tax_percent = decimal_output(allow_null=True, help_text="tax lines: the rate in percent")
    taxable_base = decimal_output(allow_null=True, help_text="tax lines: the net amount taxed at the rate")

    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "kind",
            "product",
            "description",
            "group",
            "quantity",
            "unit_price",
            "pricing_model",
            "amount",
            "breakdown",
            "service_start",
            "service_end",
            "balance_id",
            "tax_rate_id",
            "tax_percent",
            "taxable_base",
        ]


class InvoiceOutput(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="external_id", read_only=True, help_text="external id")
    contract = serializers.IntegerField(source="contract_id", read_only=True)
    status = invoice_status(read_only=True)
    number = serializers.CharField(read_only=True, allow_null=True, help_text="set when finalized (not if zero)")
    kind = NamedChoiceField(enum_name="InvoiceKind", choices=InvoiceKind.choices, read_only=True)
    subtotal = InvoiceMoneyField(currency_of=_invoice_currency, help_text="the charges, before balances and tax")
    tax_total = InvoiceMoneyField(currency_of=_invoice_currency, help_text="the tax lines' sum")
    total = InvoiceMoneyField(currency_of=_invoice_currency, help_text="what is due")
    overdue = serializers.SerializerMethodField(help_text="finalized, unpaid and past its due date today")

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "customer",
            "contract",
            "period_start",
            "period_end",
            "currency",
            "kind",
            "status",
            "subtotal",
            "tax_total",
            "total",
            "zero_total",
            "computed_at",
            "finalized_at",
            "due_date",
            "overdue",
            "paid_at",
            "payment_reference",
            "voided_at",
            "void_reason",
            "created_at",
        ]

    def get_overdue(self, obj: Invoice) -> bool:
        return obj.is_overdue(customer_now(obj.customer).date())


class InvoiceDetailOutput(InvoiceOutput):
    lines = InvoiceLineOutput(many=True, read_only=True)

    class Meta(InvoiceOutput.Meta):
        fields = [*InvoiceOutput.Meta.fields, "lines"]


class InvoiceListFilter(serializers.Serializer):
    customer = serializers.CharField(required=False, help_text="the customer's external id")
    status = invoice_status(required=False)
    contract = serializers.IntegerField(required=False, min_value=1, help_text="the contract's id")
    kind = NamedChoiceField(
        enum_name="InvoiceKind", choices=InvoiceKind.choices, required=False, help_text="period, opening or off_cycle"
    )


class ContractInvoiceComputeInput(StrictInput):
    period_start = serializers.DateField(help_text="the first day of one of the contract's billing periods")


class InvoiceVoidInput(StrictInput):
    reason = reason_input(required=True)


class InvoiceMarkPaidInput(StrictInput):
    reference = serializers.CharField(max_length=128, help_text="the payment's reference (e.g. a wire id)")


# --- reading ----------------------------------------------------------------------------------------------


def _invoices() -> QuerySet[Invoice]:
    return Invoice.objects.select_related("customer__test_clock")


def _invoice_get(pk: int) -> Invoice:
    invoice = _invoices().filter(pk=pk).first()
    if invoice is None:
        raise NotFound(f"no invoice {pk}", code="invoice_not_found")
    return invoice


def _detail(pk: int) -> dict[str, Any]:
    invoice = _invoice_get(pk)
    lines = invoice.lines.select_related("product", "invoice").order_by("position")
    data = InvoiceOutput(invoice).data
    data["lines"] = InvoiceLineOutput(lines, many=True).data
    return data


class InvoiceListApi(ApiView):
    """Invoices, newest period first; filter by customer, status, contract or kind."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="invoices_list",
        parameters=[InvoiceListFilter],
        responses=InvoiceOutput(many=True),
        tags=TAGS,
    )
    def get(self, request):
        filters = InvoiceListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        invoices = access.visible_to(request, _invoices().order_by("-period_start", "-pk"), customer_field="customer")
        if "customer" in wanted:
            invoices = invoices.filter(customer__external_id=wanted["customer"])
        if "status" in wanted:
            invoices = invoices.filter(status=wanted["status"])
        if "contract" in wanted:
            invoices = invoices.filter(contract_id=wanted["contract"])
        if "kind" in wanted:
            invoices = invoices.filter(kind=wanted["kind"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(invoices, request, view=self)
        return paginator.get_paginated_response(InvoiceOutput(page, many=True).data)


class InvoiceDetailApi(ApiView):
    """One invoice with its lines."""

    @extend_schema(operation_id="invoices_retrieve", responses=InvoiceDetailOutput, tags=TAGS)
    def get(self, request, pk: int):
        return Response(_detail(pk))


# --- writing ----------------------------------------------------------------------------------------------


class ContractInvoiceComputeApi(ApiView):
    """Compute (or recompute) a contract's draft invoice for one period; a finalized one is returned as is."""

    @extend_schema(
        operation_id="contract_invoices_compute",
        request=ContractInvoiceComputeInput,
        responses=InvoiceDetailOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        contract = contract_selectors.contract_get(pk=pk)
        data = ContractInvoiceComputeInput(data=request.data)
        data.is_valid(raise_exception=True)
        start = data.validated_data["period_start"]
        period = contract_selectors.contract_period(contract, start)
        if period.start != start:
            raise ValidationError(
                f"{start} does not start one of the contract's billing periods; the period containing it "
                f"starts on {period.start}",
                code="not_a_period_start",
                field="period_start",
            )
        invoice = services.invoice_compute(
            contract=contract, period=period, as_of=customer_now(contract.customer), actor=request.user
        )
        return Response(_detail(invoice.pk))


class InvoiceRecomputeApi(ApiView):
    """Compute a draft again from the contract and the usage measured now (late usage lands here)."""

    @extend_schema(
        operation_id="invoices_recompute",
        request=None,
        responses=InvoiceDetailOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        invoice = _invoice_get(pk)
        services.invoice_recompute(invoice=invoice, as_of=customer_now(invoice.customer), actor=request.user)
        return Response(_detail(pk))


class InvoiceFinalizeApi(ApiView):
    """Recompute one last time, draw commitments and credits down, number (unless the total is zero), freeze."""

    @extend_schema(
        operation_id="invoices_finalize",
        request=None,
        responses=InvoiceDetailOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        invoice = _invoice_get(pk)
        services.invoice_finalize(invoice=invoice, as_of=customer_now(invoice.customer), actor=request.user)
        return Response(_detail(pk))


class InvoiceVoidApi(ApiView):
    """Cancel a finalized, unpaid invoice, with a reason; its number stays used and its balances are given back."""

    @extend_schema(
        operation_id="invoices_void",
        request=InvoiceVoidInput,
        responses={200: InvoiceDetailOutput, 202: ApprovalRequestOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        invoice = _invoice_get(pk)
        data = InvoiceVoidInput(data=request.data)
        data.is_valid(raise_exception=True)
        done = invoice_void_propose(
            invoice=invoice,
            reason=data.validated_data["reason"],
            as_of=customer_now(invoice.customer),
            actor=request.user,
        )
        if isinstance(done, ApprovalRequest):  # above the void threshold: waits for an approver
            return pending(done)
        return Response(_detail(pk))


class InvoiceMarkPaidApi(ApiView):
    """Record the payment of a finalized invoice, with its reference."""

    @extend_schema(
        operation_id="invoices_mark_paid",
        request=InvoiceMarkPaidInput,
        responses=InvoiceDetailOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        invoice = _invoice_get(pk)
        data = InvoiceMarkPaidInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.invoice_mark_paid(
            invoice=invoice,
            reference=data.validated_data["reference"],
            as_of=customer_now(invoice.customer),
            actor=request.user,
        )
        return Response(_detail(pk))
