"""What the contract and balance admins' own pages share: a reason form, and the confirm-then-call-a-service page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse

from catalog.admin.base import add_domain_error, describe
from revops import history
from revops.errors import DomainError

ACTION_TEMPLATE = "admin/contracts/action.html"


class ActionForm(forms.Form):
    """A confirmation page's form: whatever the action needs, then the reason (always asked, always kept)."""

    reason = forms.CharField(
        max_length=500,
        label="Reason",
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Kept in the history with your name.",
    )

    def __init__(self, *args: Any, obj: models.Model | None = None, **kwargs: Any) -> None:
        self.obj = obj
        super().__init__(*args, **kwargs)
        self.fields["reason"] = self.fields.pop("reason")  # last on the page, after what it explains

    def add_domain_error(self, exc: DomainError) -> None:
        add_domain_error(self, exc)


class ActionPagesMixin:
    """For a ServiceAdmin: object pages at `<pk>/<name>/`, and the confirm-then-call-a-service flow."""

    object_pages: tuple[str, ...] = ()  # each is a `<name>_view(request, object_id)` method

    def get_urls(self):
        opts = self.model._meta
        own = [
            path(
                f"<path:object_id>/{name.replace('_', '-')}/",
                self.admin_site.admin_view(getattr(self, f"{name}_view")),
                name=f"{opts.app_label}_{opts.model_name}_{name}",
            )
            for name in self.object_pages
        ]
        return [*own, *super().get_urls()]

    def page_url(self, obj: models.Model, name: str) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{name}", args=[obj.pk])

    def object_or_404(self, request, object_id) -> models.Model:
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(f"no such {self.model._meta.verbose_name}")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    def action_page(
        self,
        request,
        obj: models.Model,
        *,
        form: ActionForm,
        title: str,
        perform: Callable[[dict[str, Any]], str],
        template: str = ACTION_TEMPLATE,
        **context: Any,
    ):
        """GET shows the form; a valid POST calls `perform` (one service call) and returns to the object.

        `perform` returns the success message. A domain error naming fields goes back on the form, with
        the input kept; one naming none (a state conflict) becomes an error message. Either way the
        service's transaction rolled back, so nothing changed.
        """
        change_url = self.page_url(obj, "change")
        if request.method == "POST" and form.is_valid():
            try:
                with history.change_reason(form.cleaned_data.get("reason")):  # the person's why, on every record
                    message = perform(form.cleaned_data)
            except DomainError as exc:
                if not exc.fields:
                    messages.error(request, f"Nothing changed: {describe(exc)}")
                    return HttpResponseRedirect(change_url)
                form.add_domain_error(exc)
            else:
                self.log_change(request, obj, message)
                messages.success(request, message)
                return HttpResponseRedirect(change_url)
        return self.render_page(request, template, obj, title, form=form, change_url=change_url, **context)
