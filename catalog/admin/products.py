"""Products: created and described through catalog.services.products; kind, metric and timing never change."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from catalog.admin.base import ServiceAdmin, ServiceModelForm, add_domain_error, adopt
from catalog.models import Product
from catalog.services import products as services
from revops.errors import DomainError

SHAPE = ("kind", "metric", "billing_timing")  # set at creation; invoices already issued depend on them


class ProductForm(ServiceModelForm):
    class Meta:
        model = Product
        fields = [
            "code",
            "name",
            "description",
            "kind",
            "metric",
            "billing_timing",
            "unit_label",
            "product_line",
            "price_floor",
            "is_active",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if all(name in self.fields for name in SHAPE) and all(name in cleaned for name in ("kind", "billing_timing")):
            try:
                services.product_check(
                    kind=cleaned["kind"], metric=cleaned.get("metric"), billing_timing=cleaned["billing_timing"]
                )
            except DomainError as exc:
                # On the fields, so the model's own check constraints (same rules, vaguer words) are skipped.
                add_domain_error(self, exc)
        return cleaned


@admin.register(Product)
class ProductAdmin(ServiceAdmin):
    form = ProductForm
    list_display = ["code", "name", "kind", "metric", "billing_timing", "unit_label", "product_line", "is_active"]
    list_filter = ["kind", "billing_timing", "is_active", "product_line"]
    search_fields = ["code", "name", "product_line", "description", "metric__code"]
    list_select_related = ["metric"]

    def get_fieldsets(self, request, obj=None):
        main = ["code", "name", "description", "kind", "metric", "billing_timing", "unit_label", "product_line"]
        main += ["price_floor"] if obj is not None else []
        if obj is not None:
            main += ["is_active", "created_at", "updated_at"]
        return [(None, {"fields": main}), *self.reason_fieldset(request, obj)]

    def get_readonly_fields(self, request, obj=None):
        return ["code", *SHAPE, "created_at", "updated_at"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False  # prices and invoice lines refer to products forever; retire one with "is active"

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name in services.EDITABLE}
            saved = services.product_update(
                product=obj, actor=request.user, reason=form.reason("edited in the admin"), **changes
            )
        else:
            data = form.cleaned_data
            saved = services.product_create(
                code=data["code"],
                name=data["name"],
                kind=data["kind"],
                metric=data.get("metric"),
                billing_timing=data["billing_timing"],
                description=data.get("description", ""),
                unit_label=data.get("unit_label", ""),
                product_line=data.get("product_line", ""),
                actor=request.user,
                reason=form.reason("created in the admin"),
            )
        adopt(obj, saved)
