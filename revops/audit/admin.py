"""Audit log in the admin: one page across every history table (filters, paging, CSV), and objects "as of" a time.

The page hangs off the table-less AuditLog model, so the admin index lists it (for those allowed to read
it) like any other page, and the permission is an ordinary one a role can hold.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from revops.audit import api as audit_api
from revops.audit import selectors
from revops.audit.selectors import ACTIONS, AuditFilter
from revops.errors import DomainError
from revops.models import AuditLog

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    object_type = forms.CharField(required=False, label="Object type", widget=forms.TextInput(attrs={"size": 16}))
    object_id = forms.CharField(required=False, label="Id", widget=forms.TextInput(attrs={"size": 6}))
    actor = forms.CharField(required=False, label="Who", widget=forms.TextInput(attrs={"size": 10}))
    since = forms.DateTimeField(required=False, label="Since", widget=forms.TextInput(attrs={"size": 16}))
    until = forms.DateTimeField(required=False, label="Until", widget=forms.TextInput(attrs={"size": 16}))
    action = forms.ChoiceField(required=False, choices=[("", "any")] + [(a, a) for a in ACTIONS])


class AsOfForm(forms.Form):
    as_of = forms.DateTimeField(widget=forms.TextInput(attrs={"size": 20, "placeholder": "2026-11-01 12:00"}))


AS_OF_READERS = {
    "rate_card": ("catalog.view_ratecard", lambda key, when: selectors.rate_card_as_of(code=key, when=when)),
    "contract": ("contracts.view_contract", lambda key, when: selectors.contract_as_of(pk=int(key), when=when)),
}


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("revops.view_auditlog")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "as-of/<str:kind>/<str:key>/",
                self.admin_site.admin_view(self.as_of_view),
                name="revops_auditlog_as_of",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = AuditFilterForm(request.GET or None)
        wanted = AuditFilter()
        if form.is_valid():
            wanted = AuditFilter(**{k: v for k, v in form.cleaned_data.items() if v not in (None, "")})
        try:
            if request.GET.get("export") == "csv":
                entries = selectors.audit_log_page(wanted, offset=0, limit=audit_api.CSV_LIMIT)
                response = HttpResponse(audit_api.csv_rows(entries), content_type="text/csv; charset=utf-8")
                response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
                return response
            page = Paginator(audit_api._Log(wanted), PAGE_SIZE).get_page(request.GET.get("page"))
        except DomainError as exc:  # an unknown object type, say: shown on the form, nothing listed
            form.add_error(None, exc.message)
            page = Paginator([], PAGE_SIZE).get_page(1)
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("export", None)
        return TemplateResponse(
            request,
            "admin/revops/audit_log.html",
            {
                **self.admin_site.each_context(request),
                "title": "Audit log",
                "opts": self.opts,
                "form": form,
                "page": page,
                "query": query.urlencode(),
            },
        )

    def as_of_view(self, request, kind: str, key: str):
        if kind not in AS_OF_READERS:
            raise PermissionDenied
        permission, read = AS_OF_READERS[kind]
        if not request.user.has_perm(permission):
            raise PermissionDenied
        form = AsOfForm(request.GET or None)
        snapshot, missing = None, None
        if form.is_valid():
            try:
                snapshot = json.dumps(read(key, form.cleaned_data["as_of"]), indent=2)
            except DomainError as exc:
                missing = exc.message
        return TemplateResponse(
            request,
            "admin/revops/as_of.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{kind.replace('_', ' ')} {key} as it was",
                "form": form,
                "snapshot": snapshot,
                "missing": missing,
            },
        )


class AsOfHistoryMixin:
    """For a SimpleHistoryAdmin: the history page offers to read the object as it was at a chosen time."""

    as_of_kind: str = ""
    object_history_template = "admin/revops/object_history_as_of.html"

    def as_of_key(self, object_id: str) -> str:
        return object_id

    def history_view(self, request, object_id, extra_context=None):
        url = reverse("admin:revops_auditlog_as_of", args=[self.as_of_kind, self.as_of_key(object_id)])
        return super().history_view(request, object_id, {"as_of_url": url, **(extra_context or {})})
