"""The test clock admin: create a clock, see its customers, advance it (a form with the new time), delete it.

Registered from billing because advancing runs invoice runs; the model lives in contracts, so the page sits
among the contract app's models. Status, time and error change only through the advance page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from billing.services import clocks as services
from catalog.admin.base import ServiceAdmin
from contracts.admin.pages import ActionForm, ActionPagesMixin
from contracts.models import TestClock
from contracts.services.clocks import test_clock_create
from revops.errors import DomainError

ACTION_TEMPLATE = "admin/contracts/action.html"


class TestClockForm(forms.ModelForm):
    class Meta:
        model = TestClock
        fields = ["name", "frozen_time"]
        help_texts = {"frozen_time": "the clock's time (UTC): the customers on it live at this time"}


class AdvanceForm(ActionForm):
    frozen_time = forms.DateTimeField(
        label="Advance to",
        help_text="UTC, later than the clock's time, e.g. 2027-06-01 00:00",
        widget=forms.DateTimeInput(attrs={"size": 20}, format="%Y-%m-%d %H:%M"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["reason"]  # a simulation: the clock records who moved it in the runs it makes
        if self.obj is not None:
            self.fields["frozen_time"].initial = self.obj.frozen_time + dt.timedelta(days=31)

    def clean_frozen_time(self) -> dt.datetime:
        value = self.cleaned_data["frozen_time"]
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class ConfirmDeleteForm(ActionForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["reason"]


@admin.register(TestClock)
class TestClockAdmin(ActionPagesMixin, admin.ModelAdmin):
    form = TestClockForm
    list_display = ["name", "frozen_time", "status", "customer_count", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "customers__external_id"]
    object_pages = ("advance", "delete_clock")
    render_page = ServiceAdmin.render_page

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by").prefetch_related("customers")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["name", "frozen_time", "status", "error", "customer_links", "created_by", "created_at"]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj else ["name", "frozen_time"]

    @admin.display(description="customers")
    def customer_count(self, obj: TestClock) -> int:
        return len(obj.customers.all())

    @admin.display(description="customers")
    def customer_links(self, obj: TestClock) -> str:
        invoices = reverse("admin:billing_invoice_changelist")
        rows = [
            (reverse("admin:contracts_customer_change", args=[c.pk]), str(c), invoices, c.external_id)
            for c in obj.customers.all()
        ]
        if not rows:
            return "none yet: create a customer with this clock"
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a> (<a href="{}?q={}">invoices</a>)', rows)

    def save_model(self, request, obj, form, change):
        made = test_clock_create(
            name=form.cleaned_data["name"], frozen_time=form.cleaned_data["frozen_time"], actor=request.user
        )
        obj.__dict__.update({k: v for k, v in made.__dict__.items() if k != "_state"})
        obj._state.adding = False

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # through the delete page: it deletes the simulated data too, or refuses

    def may_act(self, request) -> bool:
        return request.user.has_perm("contracts.change_testclock")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        clock_ = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if clock_ is not None and self.may_act(request):
            extra["clock_pages"] = [
                ("Advance…", self.page_url(clock_, "advance")),
                ("Delete with its customers…", self.page_url(clock_, "delete_clock")),
            ]
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _acting_on(self, request, object_id) -> TestClock:
        clock_ = self.object_or_404(request, object_id)
        if not self.may_act(request):
            raise PermissionDenied
        return clock_

    def _facts(self, clock_: TestClock) -> list[tuple[str, str]]:
        return [
            ("clock", clock_.name),
            ("time", f"{clock_.frozen_time:%Y-%m-%d %H:%M} UTC"),
            ("status", clock_.get_status_display()),
            ("customers", ", ".join(c.external_id for c in clock_.customers.all()) or "none"),
        ]

    def advance_view(self, request, object_id):
        clock_ = self._acting_on(request, object_id)
        form = AdvanceForm(request.POST if request.method == "POST" else None, obj=clock_)
        if request.method == "POST" and form.is_valid():
            try:
                moved = services.test_clock_advance(
                    test_clock=clock_, frozen_time=form.cleaned_data["frozen_time"], actor=request.user
                )
            except DomainError as exc:  # refused before anything ran: shown on the form
                form.add_domain_error(exc)
            else:
                at = f"{moved.frozen_time:%Y-%m-%d %H:%M} UTC"
                if moved.error:
                    messages.error(request, f"The advance stopped at {at}: {moved.error}. Fix it and advance again.")
                else:
                    messages.success(request, f"Advanced {moved.name} to {at}.")
                self.log_change(request, clock_, f"advanced to {at}")
                return HttpResponseRedirect(self.page_url(clock_, "change"))
        return self.render_page(
            request,
            ACTION_TEMPLATE,
            clock_,
            f"Advance {clock_.name}?",
            form=form,
            change_url=self.page_url(clock_, "change"),
            step="Advance",
            facts=self._facts(clock_),
            intro=(
                "Everything that falls between the clock's time and the new one runs for its customers, in order: "
                "period closes (invoices computed), finalizations when their grace ends, and balance expiries."
            ),
            submit="Advance the clock",
        )

    def delete_clock_view(self, request, object_id):
        clock_ = self._acting_on(request, object_id)
        form = ConfirmDeleteForm(request.POST if request.method == "POST" else None, obj=clock_)
        if request.method == "POST" and form.is_valid():
            try:
                deleted = services.test_clock_delete(test_clock=clock_, actor=request.user)
            except DomainError as exc:
                messages.error(request, f"Nothing deleted: {exc.message}")
                return HttpResponseRedirect(self.page_url(clock_, "change"))
            messages.success(request, f"Deleted test clock {clock_.name} and its {deleted} customer(s).")
            return HttpResponseRedirect(reverse("admin:contracts_testclock_changelist"))
        return self.render_page(
            request,
            ACTION_TEMPLATE,
            clock_,
            f"Delete {clock_.name}?",
            form=form,
            change_url=self.page_url(clock_, "change"),
            step="Delete",
            facts=self._facts(clock_),
            intro=(
                "The clock is deleted with its customers and their simulated data (events, draft invoices, "
                "contracts). Refused once any of it is frozen: a finalized invoice or a balance ledger entry."
            ),
            submit="Yes, delete",
        )
