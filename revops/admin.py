"""Admin for API keys: created here (the secret is shown once), revoked by an action."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from revops import apikeys, clock, history
from revops.errors import DomainError
from revops.models import ApiKey, ApiScope


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple)
    change_reason = forms.CharField(max_length=history.REASON_MAX_LENGTH, label="Reason for this change")

    class Meta:
        model = ApiKey
        fields = ["name", "user", "scopes"]


@admin.register(ApiKey)
class ApiKeyAdmin(SimpleHistoryAdmin):
    list_display = ["name", "prefix", "user", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = [
        "name",
        "prefix",
        "user",
        "scopes",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        return ["name", "user", "scopes", "change_reason"] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return  # keys are immutable; revoke and create a new one instead
        with history.change_reason(form.cleaned_data["change_reason"]):
            created = apikeys.api_key_create(
                name=form.cleaned_data["name"],
                user=form.cleaned_data["user"],
                scopes=list(form.cleaned_data["scopes"]),
                actor=request.user,
            )
        # Point the admin's unsaved instance at the row the service made, for the log and redirect.
        obj.__dict__.update({k: v for k, v in created.api_key.__dict__.items() if k != "_state"})
        obj._state.adding = False
        messages.warning(
            request,
            f"API key created. Copy it now; it is not shown again: {created.secret}",
        )

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        revoked = 0
        for key in queryset:
            try:
                apikeys.api_key_revoke(api_key=key, actor=request.user, as_of=clock.now())
                revoked += 1
            except DomainError as exc:
                messages.error(request, f"{key}: {exc.message}")
        if revoked:
            messages.success(request, f"Revoked {revoked} API key(s).")


# The audit log page and the per-object access page register themselves.
from revops import grants_admin  # noqa: E402, F401
from revops.approvals import admin as approvals_admin  # noqa: E402,F401  (registers the approval queue)
from revops.audit import admin as audit_admin  # noqa: E402, F401
