"""Rate cards and their versions: drafts edited, activated (with a confirmation page), copied, previewed."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from catalog import selectors
from catalog.admin.base import ServiceAdmin, ServiceModelForm, adopt, describe
from catalog.admin.previews import VersionPreviewForm, invoice_rows
from catalog.admin.prices import PriceInline, PriceInlineFormSet
from catalog.models import RateCard, RateCardVersion
from catalog.services import approvals as approval_services
from catalog.services import rate_cards as services
from revops import access, clock
from revops.audit.admin import AsOfHistoryMixin
from revops.errors import DomainError
from revops.money import CurrencyError, validate_currency

# --- rate cards ----------------------------------------------------------------------------------------------


class RateCardForm(ServiceModelForm):
    class Meta:
        model = RateCard
        fields = ["code", "name", "currency", "description"]

    def clean_currency(self) -> str:
        try:
            return validate_currency(self.cleaned_data["currency"])
        except CurrencyError as exc:
            raise forms.ValidationError(str(exc)) from None


class VersionInline(admin.TabularInline):
    model = RateCardVersion
    fk_name = "rate_card"
    fields = ["version_link", "status", "effective_from", "activated_at", "activated_by", "notes"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "versions"

    @admin.display(description="version")
    def version_link(self, obj: RateCardVersion) -> str:
        url = reverse("admin:catalog_ratecardversion_change", args=[obj.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.number)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("activated_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RateCard)
class RateCardAdmin(AsOfHistoryMixin, ServiceAdmin):
    form = RateCardForm
    as_of_kind = "rate_card"

    def as_of_key(self, object_id: str) -> str:
        card = RateCard.objects.filter(pk=object_id).first()
        return card.code if card else object_id

    list_display = ["code", "name", "currency", "version_count", "in_effect_today"]
    list_filter = ["currency"]
    search_fields = ["code", "name", "description"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(version_count=Count("versions"))

    @admin.display(description="versions", ordering="version_count")
    def version_count(self, obj: RateCard) -> int:
        return obj.version_count

    @admin.display(description="in effect today")
    def in_effect_today(self, obj: RateCard) -> str:
        version = selectors.version_effective_on(rate_card=obj, day=clock.today())
        return f"v{version.number} (from {version.effective_from})" if version else "—"

    def get_fields(self, request, obj=None):
        return (
            ["code", "name", "currency", "description", "created_at"]
            if obj
            else [*RateCardForm.Meta.fields, "change_reason"]
        )

    def get_inlines(self, request, obj):
        return [VersionInline] if obj else []

    def has_change_permission(self, request, obj=None):
        # There is no service to change a card once made (code and currency are fixed; prices live in versions).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        card = services.rate_card_create(
            code=data["code"],
            name=data["name"],
            currency=data["currency"],
            description=data.get("description", ""),
            actor=request.user,
            reason=form.reason("created in the admin"),
        )
        adopt(obj, card)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"add_version_url": reverse("admin:catalog_ratecardversion_add") + f"?rate_card={object_id}"}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})


# --- versions ------------------------------------------------------------------------------------------------


class RateCardVersionForm(ServiceModelForm):
    copy_prices = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Start with a copy of the prices of “based on” (empty: the card's latest version).",
    )

    class Meta:
        model = RateCardVersion
        fields = ["rate_card", "effective_from", "based_on", "notes"]
        help_texts = {"effective_from": "Billing periods starting on or after this date use this version."}


class NewDraftForm(forms.Form):
    effective_from = forms.DateField(help_text="The new version applies to billing periods starting on this date.")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
    change_reason = forms.CharField(required=False, max_length=200, label="Reason", help_text="Kept in the history.")


class ActivateForm(forms.Form):
    change_reason = forms.CharField(
        required=False, max_length=200, label="Reason", help_text="Kept in the history with your name."
    )


def _next_month_start(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


@admin.register(RateCardVersion)
class RateCardVersionAdmin(ServiceAdmin):
    form = RateCardVersionForm
    list_display = ["rate_card", "number", "status", "effective_from", "price_count", "activated_at", "activated_by"]
    list_display_links = ["rate_card", "number"]
    list_filter = ["status", "rate_card"]
    search_fields = ["rate_card__code", "rate_card__name", "notes"]
    list_select_related = ["rate_card", "activated_by"]
    date_hierarchy = "effective_from"
    actions = ["activate_versions", "new_draft_versions", "rollback_versions"]
    inlines = [PriceInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(price_count=Count("prices"))

    @admin.display(description="prices", ordering="price_count")
    def price_count(self, obj: RateCardVersion) -> int:
        return obj.price_count

    @admin.display(description="ready to activate?")
    def activation_check(self, obj: RateCardVersion) -> str:
        if not obj.is_draft:
            return f"active since {obj.activated_at:%Y-%m-%d %H:%M} UTC"
        try:
            services.rate_card_version_check(obj)
        except DomainError as exc:
            return f"not yet: {describe(exc)}"
        return "yes"

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["rate_card", "effective_from", "based_on", "copy_prices", "notes", "change_reason"]})
            ]
        fields = [
            "rate_card",
            "number",
            "status",
            "effective_from",
            "based_on",
            "notes",
            "activation_check",
            "created_at",
            "activated_at",
            "activated_by",
        ]
        if self.has_change_permission(request, obj):
            fields.append("change_reason")
        return [(None, {"fields": fields})]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "rate_card",
            "number",
            "status",
            "based_on",
            "activation_check",
            "created_at",
            "activated_at",
            "activated_by",
        ]

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        card = RateCard.objects.filter(pk=initial.get("rate_card")).first() if initial.get("rate_card") else None
        if card is not None and "effective_from" not in initial:
            latest = card.versions.order_by("-effective_from").first()
            initial["effective_from"] = _next_month_start(
                max(clock.today(), latest.effective_from if latest else clock.today())
            )
        return initial

    def has_change_permission(self, request, obj=None):
        if obj is not None and not access.may_edit_rate_card(request.user, obj.rate_card):
            return False  # a product manager edits only the cards of their product line
        return (obj is None or obj.is_draft) and super().has_change_permission(request, obj)

    def has_activate_permission(self, request, obj=None):
        return request.user.has_perm("catalog.activate_ratecardversion") and (
            obj is None or self.has_change_permission(request, obj)
        )

    def has_delete_permission(self, request, obj=None):
        return False  # no service removes a version: invoices and contracts point at them

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            if {"effective_from", "notes"} & set(form.changed_data):
                saved = services.rate_card_version_update(
                    version=obj,
                    effective_from=data["effective_from"],
                    notes=data["notes"],
                    actor=request.user,
                    reason=form.reason("edited in the admin"),
                )
                adopt(obj, saved)
            return
        if not access.may_edit_rate_card(request.user, data["rate_card"]):
            raise PermissionDenied  # a product manager drafts versions only of their product line's cards
        saved = services.rate_card_version_create(
            rate_card=data["rate_card"],
            effective_from=data["effective_from"],
            based_on=data.get("based_on"),
            copy_prices=data.get("copy_prices", False),
            notes=data.get("notes", ""),
            actor=request.user,
            reason=form.reason("new draft version"),
        )
        adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            if isinstance(formset, PriceInlineFormSet):
                formset.save_through_services(actor=request.user, reason=form.reason("prices edited in the admin"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)
        extra = {}
        if version is not None:
            extra = {
                "is_draft": version.is_draft,
                "can_activate": self.has_change_permission(request, version),
                "can_copy": self.has_add_permission(request),
                "preview_url": reverse("admin:catalog_ratecardversion_preview", args=[version.pk]),
                "activate_url": reverse("admin:catalog_ratecardversion_activate", args=[version.pk]),
                "new_draft_url": reverse("admin:catalog_ratecardversion_new_draft", args=[version.pk]),
                "add_price_url": reverse("admin:catalog_price_add") + f"?version={version.pk}",
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # --- pages of a version -------------------------------------------------------------------------------

    def get_urls(self):
        def view(name: str, func):
            return path(
                f"<path:object_id>/{name.replace('_', '-')}/",
                self.admin_site.admin_view(func),
                name=f"catalog_ratecardversion_{name}",
            )

        return [
            view("preview", self.preview_view),
            view("activate", self.activate_view),
            view("new_draft", self.new_draft_view),
            *super().get_urls(),
        ]

    def _version(self, request, object_id) -> RateCardVersion:
        version = self.get_object(request, object_id)
        if version is None:
            raise Http404("no such rate card version")
        return version

    def _change_url(self, version: RateCardVersion) -> str:
        return reverse("admin:catalog_ratecardversion_change", args=[version.pk])

    # Activation: the action (several versions) and the button (one) share the confirmation page.

    def _activate(self, request, versions, reason: str) -> int:
        """Activation needs another person's approval: each version gets an approval request."""
        asked = 0
        for version in versions:
            try:
                pending = approval_services.rate_card_version_activation_propose(
                    version=version, actor=request.user, as_of=clock.now(), reason=reason
                )
            except DomainError as exc:
                messages.error(request, f"{version}: not activated: {describe(exc)}")
            else:
                asked += 1
                link = reverse("admin:revops_approvalrequest_change", args=[pending.pk])
                messages.success(
                    request,
                    format_html(
                        '{} v{}: activation asked for; <a href="{}">request #{}</a> awaits approval.',
                        version.rate_card.code,
                        version.number,
                        link,
                        pending.pk,
                    ),
                )
        return asked

    def _confirm_activation(self, request, versions, form, *, action: bool):
        return self.render_page(
            request,
            "admin/catalog/ratecardversion/activate_confirmation.html",
            versions[0] if len(versions) == 1 else None,
            "Activate rate card versions?" if len(versions) > 1 else f"Activate {versions[0]}?",
            versions=[(v, self.activation_check(v)) for v in versions],
            form=form,
            action=action,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
        )

    @admin.action(description="Activate selected versions", permissions=["activate"])
    def activate_versions(self, request, queryset):
        versions = list(queryset.select_related("rate_card").order_by("rate_card__code", "number"))
        if not all(access.may_edit_rate_card(request.user, v.rate_card) for v in versions):
            raise PermissionDenied
        form = ActivateForm(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and form.is_valid():
            self._activate(request, versions, form.cleaned_data["change_reason"] or "activated in the admin")
            return None
        return self._confirm_activation(request, versions, form, action=True)

    def activate_view(self, request, object_id):
        version = self._version(request, object_id)
        if not self.has_activate_permission(request, version):
            if not version.is_draft:
                messages.info(request, f"{version} is already active.")
                return HttpResponseRedirect(self._change_url(version))
            raise PermissionDenied
        form = ActivateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            self._activate(request, [version], form.cleaned_data["change_reason"] or "activated in the admin")
            return HttpResponseRedirect(self._change_url(version))
        return self._confirm_activation(request, [version], form, action=False)

    # A new draft from an existing version (its prices copied).

    def _new_drafts(self, request, versions, *, action: bool):
        if not self.has_add_permission(request) or not all(
            access.may_edit_rate_card(request.user, v.rate_card) for v in versions
        ):
            raise PermissionDenied
        latest = max(v.rate_card.versions.order_by("-effective_from").first().effective_from for v in versions)
        initial = {"effective_from": _next_month_start(max(clock.today(), latest))}
        form = NewDraftForm(request.POST if "confirm" in request.POST else None, initial=initial)
        if "confirm" in request.POST and form.is_valid():
            created = []
            for version in versions:
                try:
                    created.append(
                        services.rate_card_version_create(
                            rate_card=version.rate_card,
                            based_on=version,
                            effective_from=form.cleaned_data["effective_from"],
                            notes=form.cleaned_data["notes"],
                            actor=request.user,
                            reason=form.cleaned_data["change_reason"] or f"new draft from v{version.number}",
                        )
                    )
                except DomainError as exc:
                    messages.error(request, f"{version}: no draft made: {describe(exc)}")
            for draft in created:
                messages.success(request, f"Created draft {draft} from v{draft.based_on.number}.")
            if len(created) == 1:
                return HttpResponseRedirect(self._change_url(created[0]))
            return None if action else HttpResponseRedirect(self._change_url(versions[0]))
        return self.render_page(
            request,
            "admin/catalog/ratecardversion/new_draft.html",
            versions[0] if len(versions) == 1 else None,
            "New draft version" + ("s" if len(versions) > 1 else f" from {versions[0]}"),
            versions=versions,
            form=form,
            action=action,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
        )

    @admin.action(description="Create a new draft version from this one", permissions=["add"])
    def new_draft_versions(self, request, queryset):
        return self._new_drafts(request, list(queryset.select_related("rate_card")), action=True)

    def new_draft_view(self, request, object_id):
        return self._new_drafts(request, [self._version(request, object_id)], action=False)

    @admin.action(description="Roll back to this version (a copy, activated through approval)", permissions=["add"])
    def rollback_versions(self, request, queryset):
        versions = list(queryset.select_related("rate_card"))
        if len(versions) != 1:
            messages.error(request, "Roll back to one version at a time.")
            return None
        version = versions[0]
        latest = version.rate_card.versions.order_by("-effective_from").first().effective_from
        form = NewDraftForm(
            request.POST if "confirm" in request.POST else None,
            initial={"effective_from": _next_month_start(max(clock.today(), latest))},
        )
        if "confirm" in request.POST and form.is_valid():
            try:
                pending = approval_services.rate_card_version_rollback(
                    version=version,
                    effective_from=form.cleaned_data["effective_from"],
                    actor=request.user,
                    as_of=clock.now(),
                    reason=form.cleaned_data["change_reason"] or f"rollback to v{version.number}",
                )
            except DomainError as exc:
                messages.error(request, f"{version}: not rolled back: {describe(exc)}")
                return None
            messages.success(request, f"Rollback to v{version.number} asked for: request #{pending.pk} awaits approval")
            return None
        return self.render_page(
            request,
            "admin/catalog/ratecardversion/new_draft.html",
            version,
            f"Roll back to {version}",
            intro=f"A new draft copied from v{version.number} is made; its activation then awaits another person's "
            "approval, with the price diff against the version in effect.",
            action_name="rollback_versions",
            versions=versions,
            form=form,
            action=True,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
        )

    # The price preview: quantities in, rated lines out, as on an invoice.

    def preview_view(self, request, object_id):
        version = self._version(request, object_id)
        if not self.has_view_permission(request, version):
            raise PermissionDenied
        priced = selectors.version_price_specs(version)
        # Nothing is written, so the quantities may come in the query string: a preview is a link to share.
        form = VersionPreviewForm(request.POST or request.GET or None, priced=priced)
        invoice = None
        if form.is_bound and form.is_valid():
            try:
                lines = selectors.version_preview(version=version, usage=form.usage())
            except DomainError as exc:
                form.add_usage_error(exc)
            else:
                invoice = invoice_rows(lines, version.rate_card.currency)
        return self.render_page(
            request,
            "admin/catalog/ratecardversion/preview.html",
            version,
            f"Price preview: {version}",
            form=form,
            products=form.products(),
            invoice=invoice,
            change_url=self._change_url(version),
        )
