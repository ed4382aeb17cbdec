"""Prices and their tiers. Every write is one `price_set(..., replace=True)` (or `price_delete`).

The price form and its tiers formset are validated together with `price_check` (in the tiers
formset's clean, which runs after the price form's), so gaps, overlaps, negative prices and
fields that do not fit the model show on the page before anything is written. Only prices of
draft versions can change; an active version's prices are view-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from catalog import specs
from catalog.admin.base import (
    ServiceAdmin,
    ServiceModelForm,
    add_domain_error,
    adopt,
    describe,
    field_path_label,
    grouped,
    plain,
    plain_initial,
    tier_summary,
)
from catalog.models import Price, PriceTier, Product, RateCardVersion, VersionStatus
from catalog.services import rate_cards as services
from revops import access
from revops.errors import DomainError
from revops.errors import ValidationError as DomainValidationError
from revops.money import ROUNDING_MODES

VALUE_FIELDS = services.PRICE_VALUE_FIELDS  # model + every spec field
TIERED = ("graduated", "volume")


def price_label(price: Price) -> str:
    group = f" [{price.group_key}={price.group_value or 'any other'}]" if price.group_key else ""
    return f"{price.product.code}{group}"


def price_summary(price: Price) -> str:
    """A short reading of a price for lists: '40 per unit', '3 tiers', '25 per 100 units'."""
    model = price.model
    if model == "flat":
        text = f"{plain(price.flat_amount)} flat"
    elif model == "per_unit":
        text = f"{plain(price.unit_price)} per unit"
    elif model in TIERED:
        text = tier_summary(price.tiers.all()) or "no tiers yet"
    elif model == "package":
        text = f"{plain(price.package_price)} per {plain(price.package_size)} units"
    elif model == "percentage":
        fee = f" + {plain(price.fixed_fee_per_event)} per event" if price.fixed_fee_per_event is not None else ""
        text = f"{plain(price.percentage)}%{fee}"
    else:
        text = model
    if price.included_units:
        text += f", {plain(price.included_units)} included"
    return text


DECIMAL_FIELDS = [name for name in specs.SPEC_FIELDS if name not in ("package_rounding", "rounding")]


def price_details(price: Price) -> str:
    """Every amount the price sets, plainly: 'unit price 0.002; included units 10,000'."""
    parts = [
        f"{Price._meta.get_field(name).verbose_name} {grouped(getattr(price, name))}"
        for name in DECIMAL_FIELDS
        if getattr(price, name) is not None and not (name == "included_units" and not price.included_units)
    ]
    if price.model == "package":
        parts.append(f"package rounding: {price.get_package_rounding_display().lower()}")
    return "; ".join(parts) or "no amounts (see the tiers)"


def is_frozen(price: Price | None) -> bool:
    return price is not None and price.pk is not None and price.version.status != VersionStatus.DRAFT


def _owns(request, price: Price | None) -> bool:
    """Product managers edit only the prices of their product line's rate cards (revops/access.py)."""
    return price is None or price.pk is None or access.may_edit_rate_card(request.user, price.version.rate_card)


# --- the price page: a price and its tiers ----------------------------------------------------------------


class PriceForm(ServiceModelForm):
    rounding = forms.ChoiceField(
        choices=[(name, name.replace("_", " ")) for name in ROUNDING_MODES],
        initial="half_up",
        help_text="How each invoice line of this price is rounded to the currency's minor unit.",
    )

    class Meta:
        model = Price
        fields = ["version", "product", "group_key", "group_value", "model", *specs.SPEC_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "version" in self.fields:
            self.fields["version"].queryset = RateCardVersion.objects.filter(status=VersionStatus.DRAFT).select_related(
                "rate_card"
            )
            self.fields["version"].help_text = "Only draft versions take new prices."
        # The tiers formset finds the price form here to check the price and its tiers together.
        self.instance._admin_price_form = self


class TierFormSet(forms.BaseInlineFormSet):
    """The tiers of the price on the page; its clean checks price and tiers together with `price_check`."""

    def kept_forms(self) -> list[forms.ModelForm]:
        """The tier rows that will exist after saving, in the order the engine reads them (by start)."""
        rows = [
            form
            for form in self.forms
            if form.has_changed() or (form.instance.pk is not None)
            if not (self.can_delete and self._should_delete_form(form))
        ]
        return sorted(rows, key=lambda form: form.cleaned_data.get("start") or Decimal(0))

    def tiers(self) -> list[dict[str, Any]]:
        return [
            {name: form.cleaned_data.get(name) for name in ("start", "up_to", "unit_price", "flat_fee")}
            for form in self.kept_forms()
        ]

    def clean(self) -> None:
        super().clean()
        price_form: PriceForm | None = getattr(self.instance, "_admin_price_form", None)
        if price_form is None or not price_form.is_valid() or any(form.errors for form in self.forms):
            return  # the field errors come first; the combined check runs once they are fixed
        rows = self.kept_forms()
        price = self.instance
        data = price_form.cleaned_data
        try:
            services.price_check(
                version=data.get("version") or price.version,
                product=data.get("product") or price.product,
                values=price_values(price_form, price),
                tiers=self.tiers(),
                group_key=data.get("group_key", price.group_key) or "",
                group_value=data.get("group_value", price.group_value) or "",
            )
        except DomainError as exc:
            problems = self._spread(exc, price_form, rows)
            raise forms.ValidationError(
                [*problems, "Nothing was saved: fix the price and its tiers as marked, then save again."]
            ) from None

    def _spread(self, exc: DomainError, price_form: PriceForm, rows: Sequence[forms.ModelForm]) -> list[str]:
        """Tier problems on the tier's row and field, price problems on the price form's fields.

        Returns the problems of the tiers as a whole (none given, tiers on a model without them).
        """
        whole: list[str] = []
        rest: dict[str, list[str]] = {}
        for path, problems in exc.fields.items():
            parts = path.split(".")
            if parts[0] != "tiers":
                rest[path] = problems
            elif len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
                row = rows[int(parts[1])]
                row.add_error(parts[2] if parts[2] in row.fields else None, problems)
            else:
                whole += problems
        if rest or not exc.fields:
            add_domain_error(price_form, DomainValidationError(exc.message, fields=rest))
        return whole


def price_values(form: forms.ModelForm, price: Price) -> dict[str, Any]:
    """Every value field of the price: from the form where it has the field, else what the price holds."""
    data = form.cleaned_data
    return {name: data[name] if name in form.fields else getattr(price, name) for name in VALUE_FIELDS}


class TierForm(forms.ModelForm):
    class Meta:
        model = PriceTier
        fields = ["start", "up_to", "unit_price", "flat_fee"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_initial(self)


class PriceTierInline(admin.TabularInline):
    model = PriceTier
    form = TierForm
    formset = TierFormSet
    fields = TierForm.Meta.fields
    verbose_name = "tier"
    verbose_name_plural = (
        "tiers (graduated and volume prices: from 0, each starting where the last ends, the last open)"
    )

    def get_extra(self, request, obj=None, **kwargs):
        return 3 if obj is None else 1

    def get_fields(self, request, obj=None):
        # A frozen price's tiers are shown as people write numbers (1000, not 1000.000000000000).
        return ["start_", "up_to_", "unit_price_", "flat_fee_"] if is_frozen(obj) else self.fields

    def get_readonly_fields(self, request, obj=None):
        return ["start_", "up_to_", "unit_price_", "flat_fee_"] if is_frozen(obj) else []

    @admin.display(description="start")
    def start_(self, tier: PriceTier) -> str:
        return grouped(tier.start)

    @admin.display(description="up to")
    def up_to_(self, tier: PriceTier) -> str:
        return "no limit" if tier.up_to is None else grouped(tier.up_to)

    @admin.display(description="unit price")
    def unit_price_(self, tier: PriceTier) -> str:
        return plain(tier.unit_price)

    @admin.display(description="flat fee")
    def flat_fee_(self, tier: PriceTier) -> str:
        return plain(tier.flat_fee)

    def has_add_permission(self, request, obj=None):
        return not is_frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not is_frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not is_frozen(obj) and super().has_delete_permission(request, obj)


@admin.register(Price)
class PriceAdmin(ServiceAdmin):
    form = PriceForm
    inlines = [PriceTierInline]
    list_display = ["price_display", "version", "model", "summary", "currency", "version_status"]
    list_filter = ["version__status", "version__rate_card", "model"]
    search_fields = ["product__code", "product__name", "group_value", "version__rate_card__code"]
    list_select_related = ["product", "version__rate_card"]

    @admin.display(description="price", ordering="product__code")
    def price_display(self, obj: Price) -> str:
        return price_label(obj)

    @admin.display(description="price")
    def summary(self, obj: Price) -> str:
        return price_summary(obj)

    @admin.display(description="version status", ordering="version__status")
    def version_status(self, obj: Price) -> str:
        return obj.version.get_status_display()

    @admin.display(description="version")
    def version_link(self, obj: Price) -> str:
        url = reverse(f"{self.admin_site.name}:catalog_ratecardversion_change", args=[obj.version_id])
        return format_html('<a href="{}">{}</a>', url, obj.version)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")

    def get_fieldsets(self, request, obj=None):
        head = (
            ["version_link", "product", "group_key", "group_value", "currency"]
            if obj
            else [
                "version",
                "product",
                "group_key",
                "group_value",
            ]
        )
        if is_frozen(obj):  # view-only: one plain reading instead of a dozen 12-decimal boxes
            return [(None, {"fields": [*head, "model", "details", "rounding"]})]
        # The sections the price's model does not use start folded (they open by themselves on an error).
        model = obj.model if obj else "per_unit"

        def section(name: str, fields: list[str], *models: str):
            return (name, {"fields": fields, "classes": [] if model in models else ["collapse"]})

        return [
            (None, {"fields": [*head, "model"]}),
            section("Flat, per unit", ["flat_amount", "unit_price"], "flat", "per_unit"),
            section("Package", ["package_size", "package_price", "package_rounding"], "package"),
            section(
                "Percentage", ["percentage", "fixed_fee_per_event", "min_per_event", "max_per_event"], "percentage"
            ),
            ("Any model", {"fields": ["included_units", "minimum_charge", "maximum_charge", "rounding"]}),
            *self.reason_fieldset(request, obj),
        ]

    def get_readonly_fields(self, request, obj=None):
        # Which row of the version this is never changes; remove the price and add another instead.
        return ["version_link", "product", "group_key", "group_value", "currency", "details"] if obj else []

    @admin.display(description="price")
    def details(self, obj: Price) -> str:
        return price_details(obj)

    def has_change_permission(self, request, obj=None):
        return not is_frozen(obj) and _owns(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not is_frozen(obj) and _owns(request, obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        """Nothing here: the price and its tiers are saved together, once, in save_related."""

    def save_related(self, request, form, formsets, change):
        tiers_formset = next(formset for formset in formsets if isinstance(formset, TierFormSet))
        price = form.instance
        if not access.may_edit_rate_card(request.user, price.version.rate_card):
            raise PermissionDenied  # a product manager adds prices only to the cards of their product line
        saved = services.price_set(
            version=price.version,
            product=price.product,
            group_key=price.group_key or "",
            group_value=price.group_value or "",
            values=price_values(form, price),
            tiers=tiers_formset.tiers(),
            replace=change,
            actor=request.user,
            reason=form.reason("edited in the admin" if change else "added in the admin"),
        )
        adopt(price, saved)
        tiers_formset.new_objects, tiers_formset.changed_objects, tiers_formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        services.price_delete(price=obj, actor=request.user, reason="removed in the admin")

    def delete_queryset(self, request, queryset):
        for price in queryset.select_related("version", "product"):
            try:
                services.price_delete(price=price, actor=request.user, reason="removed in the admin")
            except DomainError as exc:
                messages.error(request, f"{price_label(price)}: {describe(exc)}")

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            messages.error(request, describe(exc))
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:catalog_price_changelist"))


# --- the prices of a version, inline on the version's page ------------------------------------------------


class ProductCodeField(forms.ModelChoiceField):
    """A product picked by its code: the inline is a wide table, and codes are what people scan for."""

    def label_from_instance(self, obj: Product) -> str:
        return obj.code


class PriceInlineForm(forms.ModelForm):
    # Declared, so the admin adds no add/change/view buttons around it in every row.
    product = ProductCodeField(queryset=Product.objects.order_by("code"))

    class Meta:
        model = Price
        fields = [
            "product",
            "group_key",
            "group_value",
            "model",
            "flat_amount",
            "unit_price",
            "package_size",
            "package_price",
            "percentage",
            "included_units",
        ]
        widgets = {
            name: forms.TextInput(attrs={"size": 9})
            for name in ("flat_amount", "unit_price", "package_size", "package_price", "percentage", "included_units")
        } | {"group_key": forms.TextInput(attrs={"size": 8}), "group_value": forms.TextInput(attrs={"size": 10})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_initial(self)

    def existing_tiers(self) -> list[dict[str, Any]]:
        if self.instance.pk is None:
            return []
        return [
            {"start": t.start, "up_to": t.up_to, "unit_price": t.unit_price, "flat_fee": t.flat_fee}
            for t in self.instance.tiers.all()
        ]

    def moved(self) -> bool:
        """True when an existing row now names another product or group value: a different price."""
        return self.instance.pk is not None and bool({"product", "group_value"} & set(self.changed_data))


class PriceInlineFormSet(forms.BaseInlineFormSet):
    """A version's prices; each changed row is checked with `price_check` (tiers kept as they are)."""

    def rows(self) -> list[PriceInlineForm]:
        return [
            form
            for form in self.forms
            if form.has_changed() and not (self.can_delete and self._should_delete_form(form))
        ]

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        for form in self.rows():
            data = form.cleaned_data
            try:
                services.price_check(
                    version=self.instance,
                    product=data["product"],
                    values=price_values(form, form.instance),
                    tiers=[] if form.moved() else form.existing_tiers(),
                    group_key=data.get("group_key") or "",
                    group_value=data.get("group_value") or "",
                )
            except DomainError as exc:
                tier_problems = {k: v for k, v in exc.fields.items() if k.split(".")[0] == "tiers"}
                exc.fields = {k: v for k, v in exc.fields.items() if k not in tier_problems}
                if exc.fields or not tier_problems:
                    add_domain_error(form, exc)
                for path, problems in tier_problems.items():
                    form.add_error(
                        None,
                        [f"{field_path_label(path)}: {p} (edit the tiers on the price's own page)" for p in problems],
                    )

    def save_through_services(self, *, actor: Any, reason: str) -> None:
        """Removed rows first, then changed ones, then new ones: each one `price_delete` or `price_set`."""
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        version = self.instance
        for form in self.deleted_forms:
            if form.instance.pk is not None:
                self._call(form, services.price_delete, price=form.instance, actor=actor, reason=reason)
                self.deleted_objects.append(form.instance)
        rows = self.rows()
        for form in sorted(rows, key=lambda f: f.instance.pk is None):
            data = form.cleaned_data
            if form.moved():
                old = Price.objects.get(pk=form.instance.pk)
                self._call(form, services.price_delete, price=old, actor=actor, reason=reason)
            existing = form.instance.pk is not None and not form.moved()
            saved = self._call(
                form,
                services.price_set,
                version=version,
                product=data["product"],
                group_key=data.get("group_key") or "",
                group_value=data.get("group_value") or "",
                values=price_values(form, form.instance),
                tiers=[] if form.moved() else form.existing_tiers(),
                replace=existing,
                actor=actor,
                reason=reason,
            )
            if existing:
                self.changed_objects.append((saved, form.changed_data))
            else:
                self.new_objects.append(saved)

    @staticmethod
    def _call(form: PriceInlineForm, service: Any, **kwargs: Any) -> Any:
        try:
            return service(**kwargs)
        except DomainError as exc:
            product = form.cleaned_data.get("product") or form.instance.product
            raise DomainValidationError(f"price of {product.code}: {describe(exc)}", code=exc.code) from None


class PriceInline(admin.TabularInline):
    model = Price
    form = PriceInlineForm
    formset = PriceInlineFormSet
    extra = 0
    fields = [*PriceInlineForm.Meta.fields, "details"]
    readonly_fields = ["details"]
    verbose_name_plural = "prices (tiered prices: add the row, save, then set its tiers on the price's own page)"

    @admin.display(description="tiers and other fields")
    def details(self, obj: Price) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:catalog_price_change", args=[obj.pk])
        if obj.model in TIERED:
            tiers = list(obj.tiers.all())
            text = f"{len(tiers)} tier{'s' if len(tiers) != 1 else ''}" if tiers else "set the tiers"
        else:
            text = "all fields"
        return format_html('<a href="{}" title="{}">{}</a>', url, tier_summary(obj.tiers.all()), text)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product").prefetch_related("tiers")

    def get_fields(self, request, obj=None):
        if self._editable(obj):
            return self.fields
        return ["product", "group", "model", "amounts", "details"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if self._editable(obj) else self.get_fields(request, obj)

    @admin.display(description="group")
    def group(self, obj: Price) -> str:
        return f"{obj.group_key} = {obj.group_value or 'any other'}" if obj.group_key else ""

    @admin.display(description="price")
    def amounts(self, obj: Price) -> str:
        return price_details(obj) if obj.model not in TIERED else f"{len(obj.tiers.all())} tiers"

    def _editable(self, obj: RateCardVersion | None, request=None) -> bool:
        return (obj is None or obj.status == VersionStatus.DRAFT) and (
            request is None or obj is None or access.may_edit_rate_card(request.user, obj.rate_card)
        )

    def has_add_permission(self, request, obj=None):
        return self._editable(obj, request) and request.user.has_perm("catalog.add_price")

    def has_change_permission(self, request, obj=None):
        return self._editable(obj, request) and request.user.has_perm("catalog.change_price")

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj, request) and request.user.has_perm("catalog.delete_price")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("catalog.view_price") or request.user.has_perm("catalog.change_price")
