"""Admin page for per-object access: who may see which customer, edit which rate card or product line."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from guardian.models import UserObjectPermission
from simple_history.admin import SimpleHistoryAdmin

from revops import grants
from revops.errors import DomainError
from revops.history import REASON_MAX_LENGTH


class ObjectGrantForm(forms.ModelForm):
    grantee = forms.ModelChoiceField(queryset=get_user_model().objects.filter(is_staff=True), label="User")
    kind = forms.ChoiceField(choices=list(grants.KINDS.items()), label="Access")
    key = forms.CharField(label="Object", help_text="the customer's external id, or the rate card's or line's code")
    change_reason = forms.CharField(max_length=REASON_MAX_LENGTH, label="Reason for this change")

    class Meta:
        model = UserObjectPermission
        fields: list[str] = []


class ObjectGrantAdmin(SimpleHistoryAdmin):
    form = ObjectGrantForm
    list_display = ["user", "permission", "content_type", "object_pk", "target"]
    list_filter = ["permission"]
    search_fields = ["user__username", "object_pk"]
    list_select_related = ["user", "permission", "content_type"]

    @admin.display(description="object")
    def target(self, obj: UserObjectPermission) -> str:
        return str(obj.content_object) if obj.content_object else "(removed)"

    def has_change_permission(self, request, obj=None):
        return False  # a grant is given or taken away, never edited

    def get_fields(self, request, obj=None):
        return ["grantee", "kind", "key", "change_reason"]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            made = grants.object_grant_create(
                user=data["grantee"],
                kind=data["kind"],
                key=data["key"],
                actor=request.user,
                reason=data["change_reason"],
            )
        except DomainError as exc:
            messages.error(request, f"Nothing changed: {exc.message}")
            made = None
        if made is None:
            # An account manager lives on the customer: say so, and show the list (no guardian row was made).
            if data["kind"] == "account_manager":
                messages.success(request, f"{data['grantee']} manages {data['key']} now.")
            obj.pk = None
            return
        obj.__dict__.update({k: v for k, v in made.__dict__.items() if k != "_state"})
        obj._state.adding = False

    def log_addition(self, request, obj, message):
        if obj.pk is not None:  # an account manager is kept on the customer (its history says so), not here
            return super().log_addition(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return self.response_post_save_add(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def delete_model(self, request, obj):
        grants.object_grant_delete(grant=obj, actor=request.user, reason="access removed in the admin")

    def delete_queryset(self, request, queryset):
        for grant in queryset:
            self.delete_model(request, grant)


admin.site.register(UserObjectPermission, ObjectGrantAdmin)
