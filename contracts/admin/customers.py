"""Customers and their ingest aliases (unchanged from the single-file admin)."""

from django import forms
from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from contracts import services
from contracts.models import Customer, CustomerAlias
from contracts.tax_fields import TAX_FIELDS
from revops import access
from revops.errors import DomainError
from revops.history import REASON_MAX_LENGTH


class CustomerForm(forms.ModelForm):
    change_reason = forms.CharField(max_length=REASON_MAX_LENGTH, label="Reason for this change")

    class Meta:
        model = Customer
        fields = [
            "external_id",
            "name",
            "currency",
            "billing_email",
            "billing_address",
            "tax_id",
            "timezone",
            "metadata",
            *TAX_FIELDS,
            "test_clock",
        ]

    def clean(self):
        cleaned = super().clean()
        try:
            # The tax fields are checked together (an exemption needs its reason), so all go when one changed.
            tax = set(TAX_FIELDS) if set(TAX_FIELDS) & set(self.changed_data) else set()
            services.customer_clean_fields(
                {
                    k: v
                    for k, v in cleaned.items()
                    if (k in self.changed_data or k in tax) and k not in ("test_clock", "change_reason")
                }
            )
        except DomainError as exc:
            for field, problems in exc.fields.items():
                self.add_error(field if field in self.fields else None, problems)
        return cleaned


class CustomerAliasInline(admin.TabularInline):
    """Other ids the customer's usage events may use. Added and removed through the services."""

    model = CustomerAlias
    extra = 1
    fields = ["alias", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    form = CustomerForm
    inlines = [CustomerAliasInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is not CustomerAlias:
            return super().save_formset(request, form, formset, change)
        # formset.save() is replaced by the services here; the admin's change message still reads what it sets.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk:
                services.customer_alias_remove(alias=deleted.instance, actor=request.user)
                formset.deleted_objects.append(deleted.instance)
        for inline_form in formset.forms:
            if inline_form in formset.deleted_forms or not inline_form.has_changed() or inline_form.instance.pk:
                continue
            try:
                added = services.customer_alias_add(
                    customer=form.instance, alias=inline_form.cleaned_data["alias"], actor=request.user
                )
                formset.new_objects.append(added)
            except DomainError as exc:
                messages.error(request, exc.message)

    list_display = ["name", "external_id", "currency", "timezone", "account_manager", "billing_email", "created_at"]
    search_fields = ["name", "external_id", "billing_email", "tax_id"]
    list_filter = ["currency", "test_clock"]

    def get_readonly_fields(self, request, obj=None):
        # The id systems know a customer by, and the currency its invoices are in, never change.
        if obj:  # a clock is joined at creation (or over the API while nothing is final)
            return ["external_id", "currency", "test_clock", "account_manager", "created_at", "updated_at"]
        return ["created_at", "updated_at"]

    def get_queryset(self, request):
        # Account managers and support staff without the see-all permission see only their customers.
        return access.customers_visible(request.user, super().get_queryset(request))

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data.get("change_reason") or ("edited in the admin" if change else "created in the admin")
        fields = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in form.cleaned_data and name not in ("change_reason", "account_manager")
        }
        if change:
            saved = services.customer_update(customer=obj, actor=request.user, reason=reason, **fields)
        else:
            fields.setdefault("timezone", obj.timezone)
            saved = services.customer_create(actor=request.user, reason=reason, **fields)
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
        obj._state.adding = False
