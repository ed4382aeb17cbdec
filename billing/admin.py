"""The billing admin: invoices (read-only, with their lines and history) and the invoice counters.

An invoice changes only through its action pages, each a confirmation page calling one service with
the person as actor: recompute a draft, finalize, void (with a reason), mark paid (with a reference).
A domain error (a state conflict, a missing reason) becomes a message or a form error: nothing changed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html

from billing import clock_admin  # noqa: F401  (registers the test clock admin)
from billing.models import Invoice, InvoiceCounter, InvoiceLine, InvoiceStatus
from billing.services import invoices as services
from billing.services.approvals import invoice_void_propose
from billing.upcoming_admin import UpcomingInvoicePageMixin
from catalog.admin.base import ServiceAdmin, plain
from contracts.admin.display import amount_in
from contracts.admin.pages import ActionForm, ActionPagesMixin
from contracts.services.clocks import customer_now
from revops import access
from revops.approvals.models import ApprovalRequest

ACTION_TEMPLATE = "admin/billing/invoice/action.html"


def _posted(request):
    """The posted data, also when empty (a confirmation without fields is still a confirmation)."""
    return request.POST if request.method == "POST" else None


class ConfirmForm(ActionForm):
    """A confirmation without a reason: the service records what it did ("computed", "finalized")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["reason"]


class VoidForm(ActionForm):
    pass


class MarkPaidForm(ConfirmForm):
    reference = forms.CharField(
        max_length=128,
        widget=forms.TextInput(attrs={"size": 40}),
        help_text="the payment's reference (a wire id, a cheque number); kept in the history",
    )


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ["position", "kind", "product", "description", "group", "quantity_", "unit_price_", "amount_", "balance"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "lines"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice", "product", "balance")

    @admin.display(description="quantity")
    def quantity_(self, obj: InvoiceLine) -> str:
        return plain(obj.quantity)

    @admin.display(description="unit price")
    def unit_price_(self, obj: InvoiceLine) -> str:
        return plain(obj.unit_price)

    @admin.display(description="amount")
    def amount_(self, obj: InvoiceLine) -> str:
        return amount_in(obj.amount, obj.invoice.currency)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(UpcomingInvoicePageMixin, ActionPagesMixin, ServiceAdmin):
    list_display = ["number_", "customer", "kind", "period", "status", "overdue", "total_", "currency", "due_date"]
    list_filter = ["status", "kind", "currency"]
    search_fields = ["number", "customer__name", "customer__external_id"]
    list_select_related = ["customer__test_clock"]
    fieldsets = [
        (None, {"fields": ["number_", "kind", "status", "customer", "contract_", "period", "currency", "pdf", "pdfs"]}),
        ("Amounts", {"fields": ["subtotal_", "tax_total_", "total_", "zero_total"]}),
        (
            "Dates",
            {"fields": ["computed_at", "finalized_at", "due_date", "paid_at", "payment_reference", "voided_at"]},
        ),
        ("Void", {"fields": ["void_reason"]}),
    ]
    inlines = [InvoiceLineInline]
    object_pages = ("recompute", "finalize", "void", "mark_paid")

    def get_queryset(self, request):
        invoices = (
            super()
            .get_queryset(request)
            .select_related("customer__test_clock", "contract__customer", "contract__rate_card")
        )
        return access.through_customer(request.user, invoices)  # an account manager sees their customers' only

    # --- display -----------------------------------------------------------------------------------------

    @admin.display(description="number", ordering="number")
    def number_(self, obj: Invoice) -> str:
        if obj.number:
            return obj.number
        return "(zero total: not numbered)" if obj.zero_total else "(draft)"

    @admin.display(description="period", ordering="period_start")
    def period(self, obj: Invoice) -> str:
        return f"{obj.period_start} to {obj.period_end} (exclusive)"

    @admin.display(description="contract")
    def contract_(self, obj: Invoice) -> str:
        url = reverse("admin:contracts_contract_change", args=[obj.contract_id])
        return format_html('<a href="{}">{}</a>', url, obj.contract)

    @admin.display(description="overdue", boolean=True)
    def overdue(self, obj: Invoice) -> bool:
        return obj.is_overdue(customer_now(obj.customer).date())

    @admin.display(description="PDF")
    def pdf(self, obj: Invoice) -> str:
        if not obj.number:
            return "(numbered invoices only)"
        return format_html('<a href="{}">Download {}.pdf</a>', reverse("invoice-pdf", args=[obj.pk]), obj.number)

    @admin.display(description="earlier PDFs")
    def pdfs(self, obj: Invoice) -> str:
        documents = list(obj.documents.order_by("-rendered_at", "-pk"))
        if len(documents) < 2:
            return "(none)"
        return "; ".join(f"{d.file.name} ({d.invoice_status}, sha256 {d.sha256[:12]}…)" for d in documents[1:])

    @admin.display(description="tax", ordering="tax_total")
    def tax_total_(self, obj: Invoice) -> str:
        return amount_in(obj.tax_total, obj.currency)

    @admin.display(description="subtotal", ordering="subtotal")
    def subtotal_(self, obj: Invoice) -> str:
        return amount_in(obj.subtotal, obj.currency)

    @admin.display(description="total", ordering="total")
    def total_(self, obj: Invoice) -> str:
        return amount_in(obj.total, obj.currency)

    # --- read-only: the state changes only through the pages below ---------------------------------------

    def has_add_permission(self, request):
        return False  # invoices are computed from contracts (the API, the invoice run)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def may_act(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_invoice")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        invoice = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if invoice is not None and self.may_act(request):
            pages = {
                InvoiceStatus.DRAFT: [("Recompute draft…", "recompute"), ("Finalize…", "finalize")],
                InvoiceStatus.FINALIZED: [("Void…", "void")]
                + ([] if invoice.zero_total else [("Mark paid…", "mark_paid")]),
            }.get(invoice.status, [])
            extra["invoice_pages"] = [(label, self.page_url(invoice, name)) for label, name in pages]
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # --- action pages ------------------------------------------------------------------------------------

    def _acting_on(self, request, object_id) -> Invoice:
        invoice = self.object_or_404(request, object_id)
        if not self.may_act(request):
            raise PermissionDenied
        return invoice

    def _facts(self, invoice: Invoice) -> list[tuple[str, str]]:
        return [
            ("invoice", self.number_(invoice)),
            ("customer", str(invoice.customer)),
            ("contract", str(invoice.contract)),
            ("period", self.period(invoice)),
            ("status", invoice.get_status_display()),
            ("total", amount_in(invoice.total, invoice.currency)),
        ]

    def _page(self, request, invoice: Invoice, *, form: ActionForm, perform, step: str, **context: Any):
        return self.action_page(
            request,
            invoice,
            form=form,
            title=f"{step} {self.number_(invoice) if invoice.number else invoice}?",
            perform=perform,
            template=ACTION_TEMPLATE,
            step=step,
            facts=self._facts(invoice),
            **context,
        )

    def recompute_view(self, request, object_id):
        invoice = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            again = services.invoice_recompute(
                invoice=invoice, as_of=customer_now(invoice.customer), actor=request.user
            )
            return f"Recomputed {again}: total {amount_in(again.total, again.currency)}."

        return self._page(
            request,
            invoice,
            form=ConfirmForm(_posted(request), obj=invoice),
            perform=perform,
            step="Recompute",
            intro="The draft is computed again from the contract and the usage measured now.",
            submit="Recompute the draft",
        )

    def finalize_view(self, request, object_id):
        invoice = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            final = services.invoice_finalize(invoice=invoice, as_of=customer_now(invoice.customer), actor=request.user)
            if final.zero_total:
                return f"Finalized {final}: the total is zero, so it is kept without a number."
            return f"Finalized {final.number}: {amount_in(final.total, final.currency)}, due {final.due_date}."

        return self._page(
            request,
            invoice,
            form=ConfirmForm(_posted(request), obj=invoice),
            perform=perform,
            step="Finalize",
            intro=(
                "Finalizing computes the invoice one last time, draws commitments and credits down, gives it the "
                "next number of its series and freezes it. It cannot be undone, only voided."
            ),
            submit="Yes, finalize",
        )

    def void_view(self, request, object_id):
        invoice = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            voided = invoice_void_propose(
                invoice=invoice, reason=data["reason"], as_of=customer_now(invoice.customer), actor=request.user
            )
            if isinstance(voided, ApprovalRequest):
                return f"The void is above the threshold: request #{voided.pk} awaits an approver."
            return f"Voided {voided}."

        return self._page(
            request,
            invoice,
            form=VoidForm(_posted(request), obj=invoice),
            perform=perform,
            step="Void",
            intro="Voiding cancels a finalized, unpaid invoice. Its number stays used; its balances are given back.",
            submit="Yes, void it",
        )

    def mark_paid_view(self, request, object_id):
        invoice = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            paid = services.invoice_mark_paid(
                invoice=invoice, reference=data["reference"], as_of=customer_now(invoice.customer), actor=request.user
            )
            return f"{paid} is paid ({paid.payment_reference})."

        return self._page(
            request,
            invoice,
            form=MarkPaidForm(_posted(request), obj=invoice),
            perform=perform,
            step="Mark paid",
            intro="Records that the invoice was paid in full.",
            submit="Mark paid",
        )


@admin.register(InvoiceCounter)
class InvoiceCounterAdmin(admin.ModelAdmin):
    """View only: a counter moves only when an invoice is finalized (under a row lock)."""

    list_display = ["series", "next_number"]
    readonly_fields = ["series", "next_number"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


from billing import run_admin, tax_admin  # noqa: E402,F401  (register the period-close run and tax rate admins)
from billing.revenue import admin as revenue_admin  # noqa: E402,F401  (the finance reports, under Billing)
from billing.webhooks import admin as webhooks_admin  # noqa: E402,F401  (registers the webhook admins)
