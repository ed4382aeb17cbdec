"""The finance reports in the admin, under Billing: "Revenue report" and "Month-end close" (read-only pages with
month inputs and a CSV download), and the stored revenue schedules for reading."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse

from billing.revenue import reports
from billing.revenue.api import month_end_data, revenue_data
from billing.revenue.models import MonthEndClose, RevenueEntry, RevenueReport
from revops import clock
from revops.errors import ValidationError


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RevenueEntry)
class RevenueEntryAdmin(_ReadOnly):
    list_display = ["month", "line", "amount", "invoice"]
    list_select_related = ["line__invoice"]
    list_filter = [("month", admin.DateFieldListFilter), "line__kind"]
    search_fields = ["=line__invoice__number", "=line__invoice__customer__external_id"]

    @admin.display(description="invoice")
    def invoice(self, obj):
        return obj.line.invoice


def _csv(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _ReportAdmin(_ReadOnly):
    template = ""
    title = ""

    def page(self, request, **context):
        return TemplateResponse(
            request,
            self.template,
            {**self.admin_site.each_context(request), "title": self.title, "opts": self.model._meta, **context},
        )


@admin.register(RevenueReport)
class RevenueReportAdmin(_ReportAdmin):
    template = "admin/billing/revenue_report.html"
    title = "Revenue report"

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        today = clock.today()
        default_from = f"{dt.date(today.year, 1, 1):%Y-%m}"
        first_text = request.GET.get("from", default_from)
        last_text = request.GET.get("to", f"{today:%Y-%m}")
        try:
            first, last = reports.parse_range(first_text, last_text)
        except ValidationError as exc:
            messages.error(request, exc.message)
            return self.page(request, first=first_text, last=last_text, report=None)
        found = reports.revenue_report(first=first, last=last)
        if request.GET.get("format") == "csv":
            return _csv(reports.revenue_report_csv(found), f"revenue-{first:%Y-%m}-{last:%Y-%m}.csv")
        return self.page(request, first=first_text, last=last_text, report=revenue_data(first, last, found))


@admin.register(MonthEndClose)
class MonthEndCloseAdmin(_ReportAdmin):
    template = "admin/billing/month_end.html"
    title = "Month-end close"

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        today = clock.today()
        last_month = today.replace(day=1) - dt.timedelta(days=1)
        month_text = request.GET.get("month", f"{last_month:%Y-%m}")
        try:
            month = reports.parse_month(month_text, field_name="month")
        except ValidationError as exc:
            messages.error(request, exc.message)
            return self.page(request, month=month_text, summary=None)
        summary = reports.month_end_summary(month=month)
        if request.GET.get("format") == "csv":
            return _csv(reports.month_end_csv(summary), f"month-end-{month:%Y-%m}.csv")
        return self.page(request, month=month_text, summary=month_end_data(summary))
