"""Product lines: a product team's rate cards. Who manages a line is granted on the object access page."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from catalog.admin.base import ServiceAdmin, ServiceModelForm, adopt
from catalog.models import ProductLine, RateCard
from catalog.services import product_lines as services


class ProductLineForm(ServiceModelForm):
    rate_cards = forms.ModelMultipleChoiceField(
        queryset=RateCard.objects.all(), required=False, help_text="the cards this line's product managers edit"
    )

    class Meta:
        model = ProductLine
        fields = ["code", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["rate_cards"].initial = list(self.instance.rate_cards.values_list("pk", flat=True))


@admin.register(ProductLine)
class ProductLineAdmin(ServiceAdmin):
    form = ProductLineForm
    list_display = ["code", "name", "cards", "managers"]
    search_fields = ["code", "name"]

    def get_fields(self, request, obj=None):
        return ["code", "name", "rate_cards", "change_reason"] if obj is None else ["rate_cards", "change_reason"]

    @admin.display(description="rate cards")
    def cards(self, obj: ProductLine) -> str:
        return ", ".join(obj.rate_cards.values_list("code", flat=True)) or "—"

    @admin.display(description="managers")
    def managers(self, obj: ProductLine):
        url = reverse("admin:guardian_userobjectpermission_changelist") + f"?object_pk={obj.pk}"
        return format_html('<a href="{}">who manages it</a>', url)

    def has_delete_permission(self, request, obj=None):
        return False  # rate cards point at it; unassign them instead

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        reason = form.reason("edited in the admin")
        line = (
            obj
            if change
            else services.product_line_create(code=data["code"], name=data["name"], actor=request.user, reason=reason)
        )
        wanted = set(data["rate_cards"])
        for card in RateCard.objects.filter(product_line=line).exclude(pk__in=[c.pk for c in wanted]):
            services.rate_card_product_line_set(rate_card=card, product_line=None, actor=request.user, reason=reason)
        for card in wanted:
            if card.product_line_id != line.pk:
                services.rate_card_product_line_set(
                    rate_card=card, product_line=line, actor=request.user, reason=reason
                )
        adopt(obj, line)
