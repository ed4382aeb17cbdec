"""A contract's actions, each a confirmation page asking for a reason: activate, end, amend, change a
subscription, grant a commitment or credit. Each calls one service with `actor=request.user`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied

from catalog.admin.base import add_domain_error, describe, grouped
from catalog.admin.prices import ProductCodeField
from catalog.models import Product
from contracts import selectors
from contracts.admin.display import amount_in, terms_in_words, with_terms
from contracts.admin.pages import ActionForm
from contracts.admin.terms import TermsEditor
from contracts.models import BalanceKind, ChangeTiming, Contract
from contracts.services import contracts as services
from contracts.services.approvals import balance_grant_propose, contract_amend_propose
from contracts.services.clocks import customer_now
from revops import clock
from revops.approvals.models import ApprovalRequest
from revops.errors import DomainError

# --- forms ------------------------------------------------------------------------------------------------


class ActivateForm(ActionForm):
    pass


class EndForm(ActionForm):
    end_date = forms.DateField(help_text="exclusive: the last day billed is the day before")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.obj is not None:
            self.fields["end_date"].initial = selectors.contract_period(self.obj, clock.today()).end


class AmendForm(ActionForm):
    effective_from = forms.DateField(help_text="the new terms apply from this day; the earlier ones stay as they were")

    def __init__(self, *args: Any, latest: services.Terms, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.terms_editor = TermsEditor(self.data if self.is_bound else None, initial=latest, amending=True)
        if self.obj is not None:
            self.fields["effective_from"].initial = selectors.contract_period(self.obj, clock.today()).end

    def is_valid(self) -> bool:
        return all([super().is_valid(), self.terms_editor.is_valid()])

    def add_domain_error(self, exc: DomainError) -> None:
        rest = self.terms_editor.add_error(exc)
        if rest:
            add_domain_error(self, type(exc)(exc.message, code=exc.code, fields=rest))
        if len(rest) < len(exc.fields):
            self.add_error(None, f"{exc.message}: see the terms below")


class SubscriptionForm(ActionForm):
    product = ProductCodeField(queryset=Product.objects.filter(kind__in=services.SUBSCRIBED_KINDS).order_by("code"))
    quantity = forms.DecimalField(min_value=0, help_text="the new quantity (0 ends the subscription)")
    effective_date = forms.DateField()
    timing = forms.ChoiceField(
        choices=ChangeTiming.choices,
        initial=ChangeTiming.IMMEDIATE,
        help_text="at the end of the period: from the start of the next period after the date",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.obj is not None:
            self.fields["effective_date"].initial = max(clock.today(), self.obj.start_date)


class GrantForm(ActionForm):
    kind = forms.ChoiceField(choices=BalanceKind.choices)
    name = forms.CharField(required=False, max_length=200)
    amount = forms.DecimalField(max_digits=24, decimal_places=3, help_text="in the contract's currency")
    starts_on = forms.DateField()
    expires_on = forms.DateField(help_text="exclusive: usable before this day")
    priority = forms.IntegerField(min_value=0, initial=100, help_text="among balances expiring together, lower first")
    product = ProductCodeField(
        queryset=Product.objects.order_by("code"),
        required=False,
        empty_label="(any product)",
        help_text="credits only: usable for this product alone",
    )
    rollover_fraction = forms.DecimalField(
        max_digits=7, decimal_places=6, initial=0, help_text="commitments: the share of what is left that rolls over"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.obj is not None:
            self.fields["starts_on"].initial = max(clock.today(), self.obj.start_date)
            self.fields["amount"].help_text = f"in {self.obj.currency}"


# --- pages ------------------------------------------------------------------------------------------------


def _schedule_today(contract: Contract) -> str:
    subscriptions = selectors.contract_as_of(contract, clock.today()).subscriptions
    return ", ".join(f"{grouped(q)} x {code}" for code, q in sorted(subscriptions.items())) or "nothing subscribed"


class ContractActionsMixin:
    """The action pages of ContractAdmin (which provides `action_page`, `object_or_404` and `page_url`)."""

    def may_act(self, request) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_contract")

    def _acting_on(self, request, object_id, permission: str | None = None) -> Contract:
        contract = self.object_or_404(request, object_id)
        # Most pages need the right to change contracts; amending (Sales) and granting (Finance) have their own.
        if not (request.user.has_perm(permission) if permission else self.may_act(request)):
            raise PermissionDenied
        return contract

    def _facts(self, contract: Contract) -> list[tuple[str, str]]:
        return [
            ("customer", str(contract.customer)),
            ("rate card", f"{contract.rate_card.code} ({contract.currency})"),
            ("status", contract.get_status_display()),
            ("runs", f"from {contract.start_date}" + (f" until {contract.end_date}" if contract.end_date else "")),
        ]

    def activate_view(self, request, object_id):
        contract = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            services.contract_activate(contract=contract, actor=request.user, reason=data["reason"])
            return f"{contract} is active."

        return self.action_page(
            request,
            contract,
            form=ActivateForm(request.POST or None, obj=contract),
            title=f"Activate {contract}?",
            perform=perform,
            step="Activate",
            intro="An active contract is billed every period from its start date.",
            facts=self._facts(contract),
            submit="Yes, activate",
        )

    def end_view(self, request, object_id):
        contract = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            services.contract_end(
                contract=contract, end_date=data["end_date"], actor=request.user, reason=data["reason"]
            )
            return f"{contract} ends on {data['end_date']} (exclusive)."

        return self.action_page(
            request,
            contract,
            form=EndForm(request.POST or None, obj=contract),
            title=f"End {contract}?",
            perform=perform,
            step="End",
            intro="An ended contract is billed up to its end date and can no longer be amended.",
            facts=self._facts(contract),
            submit="Yes, end the contract",
        )

    def amend_view(self, request, object_id):
        contract = self._acting_on(request, object_id, "contracts.add_contractversion")
        latest = with_terms(contract.versions.order_by("-number")).first()

        def perform(data: dict[str, Any]) -> str:
            version = contract_amend_propose(
                contract=contract,
                effective_from=data["effective_from"],
                actor=request.user,
                reason=data["reason"],
                terms=form.terms_editor.terms(),
                as_of=customer_now(contract.customer),
            )
            if isinstance(version, ApprovalRequest):
                return f"The discount is beyond policy: request #{version.pk} awaits an approver."
            return f"{contract}: v{version.number} takes effect on {version.effective_from}."

        form = AmendForm(request.POST or None, obj=contract, latest=services.terms_of(latest))
        return self.action_page(
            request,
            contract,
            form=form,
            title=f"Amend {contract}",
            perform=perform,
            step="Amend",
            intro=(
                f"An amendment is a new version of the terms from its effective date; v{latest.number} and the "
                "earlier versions stay as they were. Tick the kinds of terms to replace; the others carry over."
            ),
            facts=[
                *self._facts(contract),
                (f"v{latest.number}, from {latest.effective_from}", "; ".join(terms_in_words(latest))),
            ],
            terms=form.terms_editor,
            submit="Make the new version",
        )

    def subscription_view(self, request, object_id):
        contract = self._acting_on(request, object_id)

        def perform(data: dict[str, Any]) -> str:
            change = services.subscription_change(
                contract=contract,
                product=data["product"],
                quantity=data["quantity"],
                effective_date=data["effective_date"],
                timing=data["timing"],
                actor=request.user,
                reason=data["reason"],
                as_of=customer_now(contract.customer),
            )
            return f"{grouped(change.quantity)} x {change.product.code} from {change.effective_date}."

        return self.action_page(
            request,
            contract,
            form=SubscriptionForm(request.POST or None, obj=contract),
            title=f"Change a subscription of {contract}",
            perform=perform,
            step="Change subscription",
            intro="Sets a product's quantity from a date; an immediate change mid-period is prorated by day.",
            facts=[*self._facts(contract), ("subscribed today", _schedule_today(contract))],
            submit="Change the subscription",
        )

    def grant_view(self, request, object_id):
        contract = self._acting_on(request, object_id, "contracts.add_balance")
        if not request.user.has_perm(f"{self.opts.app_label}.add_balance"):
            raise PermissionDenied

        def perform(data: dict[str, Any]) -> str:
            balance = balance_grant_propose(
                contract=contract,
                kind=data["kind"],
                amount=data["amount"],
                starts_on=data["starts_on"],
                expires_on=data["expires_on"],
                as_of=customer_now(contract.customer),
                actor=request.user,
                priority=data["priority"],
                product=data.get("product"),
                rollover_fraction=data["rollover_fraction"] or Decimal(0),
                name=data.get("name", ""),
                reason=data["reason"],
            )
            if isinstance(balance, ApprovalRequest):
                return f"The credit is above the threshold: request #{balance.pk} awaits an approver."
            return f"Granted {balance.get_kind_display().lower()} of {amount_in(balance.amount, contract.currency)}."

        return self.action_page(
            request,
            contract,
            form=GrantForm(request.POST or None, obj=contract),
            title=f"Grant a commitment or credit on {contract}",
            perform=perform,
            step="Grant",
            intro="Usage draws from the balances that expire soonest, then by priority, then the oldest.",
            facts=self._facts(contract),
            submit="Grant",
        )

    # The changelist action: several drafts at once, one reason.

    @admin.action(description="Activate selected draft contracts", permissions=["change"])
    def activate_contracts(self, request, queryset):
        contracts = list(queryset.select_related("customer", "rate_card"))
        form = ActivateForm(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and form.is_valid():
            for contract in contracts:
                try:
                    services.contract_activate(
                        contract=contract, actor=request.user, reason=form.cleaned_data["reason"]
                    )
                except DomainError as exc:
                    messages.error(request, f"{contract}: not activated: {describe(exc)}")
                else:
                    self.log_change(request, contract, "Activated")
                    messages.success(request, f"{contract} is active.")
            return None
        return self.render_page(
            request,
            "admin/contracts/action.html",
            None,
            "Activate contracts?",
            form=form,
            step="Activate",
            intro="Active contracts are billed every period from their start dates.",
            objects=[f"{c} ({c.get_status_display().lower()})" for c in contracts],
            action="activate_contracts",
            selected=[c.pk for c in contracts],
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
            submit="Yes, activate",
        )
