"""Commitments and credits, and their ledger. A balance is granted on its contract's page; here it is read,
adjusted or voided (each a confirmation page with a reason). The ledger is append-only: view only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html

from catalog.admin.base import ServiceAdmin, plain
from contracts.admin.display import amount_in
from contracts.admin.pages import ActionForm, ActionPagesMixin
from contracts.models import Balance, BalanceKind, LedgerEntry
from contracts.services import balances as services
from contracts.services.clocks import customer_now
from revops import access


def with_remaining(balances):
    """Balances with `remaining`: the sum of their ledger entries (what services.balances.remaining reads)."""
    return balances.annotate(
        remaining=Coalesce(
            Sum("entries__amount"), Value(Decimal(0)), output_field=DecimalField(max_digits=24, decimal_places=3)
        )
    )


def contract_link(balance: Balance) -> str:
    url = reverse("admin:contracts_contract_change", args=[balance.contract_id])
    return format_html('<a href="{}">{}</a>', url, balance.contract)


class AdjustForm(ActionForm):
    amount = forms.DecimalField(
        max_digits=24, decimal_places=3, help_text="added to the balance; negative to take off (never below zero)"
    )


class VoidForm(ActionForm):
    pass


class LedgerInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["effective_at", "kind", "amount_", "memo", "reference", "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "ledger (append-only: every movement of the balance)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("balance__contract", "created_by")

    @admin.display(description="amount")
    def amount_(self, obj: LedgerEntry) -> str:
        return amount_in(obj.amount, obj.balance.contract.currency)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Balance)
class BalanceAdmin(ActionPagesMixin, ServiceAdmin):
    list_display = ["__str__", "contract", "kind", "granted", "remaining_", "starts_on", "expires_on", "priority"]
    list_filter = ["kind"]
    search_fields = ["name", "contract__customer__name", "contract__customer__external_id", "contract__name"]
    list_select_related = ["contract__customer", "contract__rate_card"]
    fieldsets = [
        (None, {"fields": ["contract_", "kind", "name", "granted", "remaining_", "product", "priority"]}),
        ("Access", {"fields": ["starts_on", "expires_on", "rollover", "reason", "created_at"]}),
    ]
    inlines = [LedgerInline]
    object_pages = ("adjust", "void")

    def get_queryset(self, request):
        balances = with_remaining(super().get_queryset(request)).select_related("contract", "product")
        return access.through_customer(request.user, balances, customer_field="contract__customer")

    @admin.display(description="contract")
    def contract_(self, obj: Balance) -> str:
        return contract_link(obj)

    @admin.display(description="granted", ordering="amount")
    def granted(self, obj: Balance) -> str:
        return amount_in(obj.amount, obj.contract.currency)

    @admin.display(description="remaining", ordering="remaining")
    def remaining_(self, obj: Balance) -> str:
        return amount_in(obj.remaining, obj.contract.currency)

    @admin.display(description="rollover")
    def rollover(self, obj: Balance) -> str:
        if obj.kind != BalanceKind.COMMIT:
            return "credits do not roll over"
        return f"{plain(obj.rollover_fraction * 100)}% of what is left rolls over" if obj.rollover_fraction else "none"

    def has_add_permission(self, request):
        return False  # granted on the contract's page ("Grant commit or credit…")

    def has_change_permission(self, request, obj=None):
        return False  # amounts move only through the ledger: adjust or void

    def has_delete_permission(self, request, obj=None):
        return False

    def may_act(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_balance")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        balance = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if balance is not None and self.may_act(request):
            extra["balance_pages"] = [
                ("Adjust…", self.page_url(balance, "adjust")),
                *([("Void…", self.page_url(balance, "void"))] if balance.remaining > 0 else []),
            ]
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _acting_on(self, request, object_id) -> Balance:
        balance = self.object_or_404(request, object_id)
        if not self.may_act(request):
            raise PermissionDenied
        return balance

    def _facts(self, balance: Balance) -> list[tuple[str, str]]:
        currency = balance.contract.currency
        return [
            ("contract", str(balance.contract)),
            ("balance", f"{balance.get_kind_display()}, usable {balance.starts_on} to {balance.expires_on}"),
            ("granted", amount_in(balance.amount, currency)),
            ("remaining", amount_in(balance.remaining, currency)),
        ]

    def adjust_view(self, request, object_id):
        balance = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            services.balance_adjust(
                balance=balance,
                amount=data["amount"],
                as_of=customer_now(balance.contract.customer),
                actor=request.user,
                reason=data["reason"],
            )
            return f"Adjusted {balance} by {amount_in(data['amount'], balance.contract.currency)}."

        return self.action_page(
            request,
            balance,
            form=AdjustForm(request.POST or None, obj=balance),
            title=f"Adjust {balance}",
            perform=perform,
            step="Adjust",
            intro="A manual correction is a ledger entry of its own; the earlier entries stay as they are.",
            facts=self._facts(balance),
            submit="Adjust the balance",
        )

    def void_view(self, request, object_id):
        balance = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            services.balance_void(
                balance=balance,
                as_of=customer_now(balance.contract.customer),
                actor=request.user,
                reason=data["reason"],
            )
            return f"Voided what was left of {balance} ({amount_in(balance.remaining, balance.contract.currency)})."

        return self.action_page(
            request,
            balance,
            form=VoidForm(request.POST or None, obj=balance),
            title=f"Void {balance}?",
            perform=perform,
            step="Void",
            intro="Voiding cancels what is left of the balance. What was drawn stays drawn.",
            facts=self._facts(balance),
            submit="Yes, void it",
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """View only. Not a SimpleHistoryAdmin: entries are never changed, so the model keeps no history."""

    list_display = ["effective_at", "balance", "contract", "kind", "amount_", "memo", "reference", "created_by"]
    list_filter = ["kind"]
    search_fields = ["memo", "reference", "balance__name", "balance__contract__customer__name"]
    list_select_related = ["balance__contract__customer", "balance__contract__rate_card", "created_by"]
    date_hierarchy = "effective_at"

    @admin.display(description="contract")
    def contract(self, obj: LedgerEntry) -> str:
        return contract_link(obj.balance)

    @admin.display(description="amount", ordering="amount")
    def amount_(self, obj: LedgerEntry) -> str:
        return amount_in(obj.amount, obj.balance.contract.currency)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
