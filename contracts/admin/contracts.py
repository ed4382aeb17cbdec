"""Contracts: signed through `contract_create`, then read-only; every later change is an action page.

The change page shows the versions of the terms, the subscription schedule and the balances, all
read-only; the buttons above it lead to the actions (activate, end, amend, change a subscription,
grant) and to the as-of and preview pages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import ValidationError as DjangoValidationError
from django.forms.models import construct_instance
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from catalog.admin.base import (
    ReasonField,
    ServiceAdmin,
    ServiceModelForm,
    add_domain_error,
    adopt,
    grouped,
    plain,
)
from catalog.models import RateCardVersion, VersionStatus
from contracts import selectors
from contracts.admin.balances import with_remaining
from contracts.admin.contract_actions import ContractActionsMixin
from contracts.admin.contract_pages import ContractPagesMixin
from contracts.admin.display import amount_in, terms_in_words, with_terms
from contracts.admin.pages import ActionPagesMixin
from contracts.admin.terms import TermsEditor
from contracts.models import Balance, Contract, ContractStatus, ContractVersion, SubscriptionChange
from contracts.services.approvals import contract_create_propose
from revops import access, clock
from revops.approvals.models import ApprovalRequest
from revops.audit.admin import AsOfHistoryMixin

DEFAULT_SIGN_REASON = "contract signed (entered in the admin)"

# --- the new-contract page --------------------------------------------------------------------------------


class PinnedVersionField(forms.ModelChoiceField):
    def label_from_instance(self, obj: RateCardVersion) -> str:
        return f"{obj.rate_card.code} v{obj.number} (from {obj.effective_from})"


class ContractCreateForm(ServiceModelForm):
    """The contract's fields and its signed terms (version 1). `contract_create` checks them all."""

    pinned_version = PinnedVersionField(
        queryset=RateCardVersion.objects.filter(status=VersionStatus.ACTIVE)
        .select_related("rate_card")
        .order_by("rate_card__code", "number"),
        required=False,
        empty_label="(none: follows the card as new versions activate)",
        help_text="Grandfathered on this version of the card. Only active versions can be pinned.",
    )

    change_reason = ReasonField(
        label="Reason",
        help_text=f"Recorded in the history with your name. Left empty: “{DEFAULT_SIGN_REASON}”.",
    )

    class Meta:
        model = Contract
        fields = [
            "customer",
            "name",
            "rate_card",
            "pinned_version",
            "start_date",
            "end_date",
            "cadence",
            "billing_anchor",
            "proration",
        ]
        help_texts = {
            "rate_card": "The contract bills in the card's currency, which must be the customer's.",
            "billing_anchor": "Periods start on this day of the month; empty: the start date.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "billing_anchor" in self.fields:
            self.fields["billing_anchor"].required = False
        self.terms_editor = TermsEditor(self.data if self.is_bound else None)

    def clean(self) -> dict[str, Any]:
        error, self.save_error = self.save_error, None  # shown below: on the terms' rows where it names them
        cleaned = super().clean()
        if not self.terms_editor.is_valid():
            self.add_error(None, "Correct the terms below.")
        if error is not None:
            rest = self.terms_editor.add_error(error)
            if rest or not error.fields:
                add_domain_error(self, type(error)(error.message, code=error.code, fields=rest))
            if len(rest) < len(error.fields):
                self.add_error(None, f"{error.message}: see the terms below.")
        return cleaned

    def _post_clean(self) -> None:
        # Field checks only. The model's check constraints say what `contract_create` says (dates in
        # order, the currency), but as "Constraint … is violated"; the service's words show instead.
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
            self.instance.full_clean(
                exclude=self._get_validation_exclusions(), validate_unique=False, validate_constraints=False
            )
        except DjangoValidationError as exc:
            self._update_errors(exc)


# --- read-only inlines ------------------------------------------------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VersionInline(ReadOnlyInline):
    model = ContractVersion
    fields = ["number_", "effective_from", "terms", "reason", "created_by", "created_at"]
    verbose_name_plural = "versions of the terms (every amendment adds one; none is ever edited)"

    def get_queryset(self, request):
        return with_terms(super().get_queryset(request)).order_by("number")

    @admin.display(description="version")
    def number_(self, obj: ContractVersion) -> str:
        return f"v{obj.number}"

    @admin.display(description="terms")
    def terms(self, obj: ContractVersion) -> str:
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((t,) for t in terms_in_words(obj))))


class SubscriptionInline(ReadOnlyInline):
    model = SubscriptionChange
    fields = ["product", "quantity_", "effective_date", "timing", "reason", "created_by", "created_at"]
    verbose_name_plural = "subscription schedule (each entry sets a product's quantity from its date)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "created_by").order_by("effective_date", "pk")

    @admin.display(description="quantity")
    def quantity_(self, obj: SubscriptionChange) -> str:
        return grouped(obj.quantity)


class BalanceInline(ReadOnlyInline):
    model = Balance
    fields = ["balance", "kind", "granted", "remaining_", "priority", "product", "starts_on", "expires_on", "rollover"]
    verbose_name_plural = "commitments and credits (adjust or void one on its own page)"

    def get_queryset(self, request):
        return with_remaining(super().get_queryset(request)).select_related("product", "contract")

    @admin.display(description="balance")
    def balance(self, obj: Balance) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:contracts_balance_change", args=[obj.pk]), obj)

    @admin.display(description="granted")
    def granted(self, obj: Balance) -> str:
        return amount_in(obj.amount, obj.contract.currency)

    @admin.display(description="remaining")
    def remaining_(self, obj: Balance) -> str:
        return amount_in(obj.remaining, obj.contract.currency)

    @admin.display(description="rollover")
    def rollover(self, obj: Balance) -> str:
        return f"{plain(obj.rollover_fraction * 100)}%" if obj.rollover_fraction else "—"


# --- the contract admin -----------------------------------------------------------------------------------


@admin.register(Contract)
class ContractAdmin(AsOfHistoryMixin, ContractActionsMixin, ContractPagesMixin, ActionPagesMixin, ServiceAdmin):
    form = ContractCreateForm
    list_display = ["__str__", "customer", "rate_card", "pinned", "cadence", "status", "start_date", "end_date"]
    list_filter = ["status", "cadence"]
    search_fields = ["customer__name", "customer__external_id", "name"]
    list_select_related = ["customer", "rate_card", "pinned_version"]
    autocomplete_fields = ["customer"]
    date_hierarchy = "start_date"
    actions = ["activate_contracts"]
    object_pages = ("activate", "end", "amend", "subscription", "grant", "as_of", "preview")
    as_of_kind = "contract"

    def get_queryset(self, request):
        # An account manager (or support) without the see-all permission sees only their customers' contracts.
        return access.through_customer(request.user, super().get_queryset(request))

    @admin.display(description="pinned version", ordering="pinned_version__number")
    def pinned(self, obj: Contract) -> str:
        return f"v{obj.pinned_version.number}" if obj.pinned_version else "follows the card"

    @admin.display(description="in effect today")
    def today(self, obj: Contract) -> str:
        day = clock.today()
        snapshot = selectors.contract_as_of(obj, day)
        version = f"v{snapshot.version.number}" if snapshot.version else "no terms yet (not started)"
        subscribed = ", ".join(f"{grouped(q)} x {code}" for code, q in sorted(snapshot.subscriptions.items()))
        period = selectors.contract_period(obj, day)
        return f"{day}: terms {version}; {subscribed or 'nothing subscribed'}; period {period.start} to {period.end}"

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": [*ContractCreateForm.Meta.fields, "change_reason"]})]
        return [
            (None, {"fields": ["customer", "name", "rate_card", "pinned", "currency", "status", "today"]}),
            ("Billing", {"fields": ["start_date", "end_date", "cadence", "billing_anchor", "proration", "created_at"]}),
        ]

    def get_inlines(self, request, obj):
        return [VersionInline, SubscriptionInline, BalanceInline] if obj else []

    def has_change_permission(self, request, obj=None):
        # No service edits a signed contract: its changes are the actions, each with its own page.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # invoices and history refer to contracts; end one instead

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        contract = contract_create_propose(
            as_of=clock.now(),
            customer=data["customer"],
            rate_card=data["rate_card"],
            pinned_version=data.get("pinned_version"),
            start_date=data["start_date"],
            end_date=data.get("end_date"),
            cadence=data["cadence"],
            billing_anchor=data.get("billing_anchor"),
            proration=data["proration"],
            name=data.get("name", ""),
            terms=form.terms_editor.terms(),
            actor=request.user,
            reason=form.reason(DEFAULT_SIGN_REASON),
        )
        if isinstance(contract, ApprovalRequest):  # a discount beyond policy: nothing is signed yet
            request._approval_request = contract
            return
        adopt(obj, contract)

    def log_addition(self, request, obj, message):
        if getattr(request, "_approval_request", None) is None:
            return super().log_addition(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        asked = getattr(request, "_approval_request", None)
        if asked is not None:
            messages.success(request, f"The discount is beyond policy: request #{asked.pk} awaits an approver.")
            return HttpResponseRedirect(reverse("admin:revops_approvalrequest_change", args=[asked.pk]))
        if "_addanother" in request.POST or IS_POPUP_VAR in request.POST:
            return super().response_add(request, obj, post_url_continue)
        messages.success(request, f"{obj} is signed as a draft. Add its subscriptions, then activate it.")
        return HttpResponseRedirect(self.page_url(obj, "change"))

    def balance_url(self, balance: Balance) -> str:
        return reverse(f"{self.admin_site.name}:contracts_balance_change", args=[balance.pk])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contract = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if contract is not None:
            can_act = self.may_act(request)
            extra["contract_pages"] = [
                (name, self.page_url(contract, page))
                for name, page, shown in [
                    ("As of a date", "as_of", True),
                    ("Preview a period", "preview", True),
                    ("Activate…", "activate", can_act and contract.status == ContractStatus.DRAFT),
                    (
                        "Amend…",
                        "amend",
                        request.user.has_perm("contracts.add_contractversion")
                        and contract.status != ContractStatus.ENDED,
                    ),
                    ("Change subscription…", "subscription", can_act and contract.status != ContractStatus.ENDED),
                    ("Grant commit or credit…", "grant", request.user.has_perm("contracts.add_balance")),
                    ("End…", "end", can_act and contract.status != ContractStatus.ENDED),
                ]
                if shown
            ]
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})
