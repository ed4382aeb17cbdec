"""Tax rates in the admin: created and changed through the services (overlaps and bad input refused on the form)."""

from __future__ import annotations

from django.contrib import admin

from billing.services import taxes
from billing.taxes import TaxRate
from catalog.admin.base import ServiceAdmin, ServiceModelForm, adopt

FIELDS = ["name", "rate_percent", "region", "effective_from", "effective_to"]


class TaxRateForm(ServiceModelForm):
    class Meta:
        model = TaxRate
        fields = FIELDS


@admin.register(TaxRate)
class TaxRateAdmin(ServiceAdmin):
    form = TaxRateForm
    list_display = ["name", "region", "rate_percent", "effective_from", "effective_to"]
    list_filter = ["region"]
    search_fields = ["name", "region"]

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": FIELDS}), *self.reason_fieldset(request, obj)]

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data.get(name) for name in FIELDS}
        if change:
            saved = taxes.tax_rate_update(
                tax_rate=obj, actor=request.user, reason=form.reason("edited in the admin"), **values
            )
        else:
            saved = taxes.tax_rate_create(actor=request.user, reason=form.reason("created in the admin"), **values)
        adopt(obj, saved)

    def has_delete_permission(self, request, obj=None):
        return False  # a rate is ended (its end date), never deleted: invoices and history point at it
