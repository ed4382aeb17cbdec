"""Admin for usage: search events, see rejected events with their reasons, daily counts, rollup states."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import admin
from django.db.models import Count
from django.db.models.functions import TruncDay
from django.template.response import TemplateResponse
from django.urls import path

from revops import clock
from usage.models import MetricRollupState, RejectedEvent, UsageEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Usage records are written by ingestion only; staff read them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ["transaction_id", "customer", "event_type", "timestamp", "received_at"]
    list_filter = ["event_type", ("timestamp", admin.DateFieldListFilter)]
    search_fields = ["=transaction_id", "=customer__external_id", "customer__name"]
    date_hierarchy = "timestamp"
    list_select_related = ["customer"]
    show_full_result_count = False  # counting millions of rows on every page would be slow
    change_list_template = "admin/usage/usageevent/change_list.html"

    def get_urls(self):
        return [
            path("daily/", self.admin_site.admin_view(self.daily_view), name="usage_usageevent_daily"),
            *super().get_urls(),
        ]

    def daily_view(self, request):
        """Events per day and type over the accepted window (35 days by default)."""
        since = clock.now() - dt.timedelta(days=settings.REVOPS_EVENT_MAX_AGE_DAYS)
        rows = (
            UsageEvent.objects.filter(timestamp__gte=since)
            .annotate(day=TruncDay("timestamp"))
            .values("day", "event_type")
            .annotate(events=Count("id"))
            .order_by("-day", "event_type")
        )
        rejected = (
            RejectedEvent.objects.filter(received_at__gte=since)
            .annotate(day=TruncDay("received_at"))
            .values("day", "code")
            .annotate(events=Count("id"))
            .order_by("-day", "code")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage events per day",
            "rows": rows,
            "rejected": rejected,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/usage/usageevent/daily.html", context)


@admin.register(RejectedEvent)
class RejectedEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "code", "transaction_id", "customer_ref", "event_type", "reason"]
    list_filter = ["code", ("received_at", admin.DateFieldListFilter)]
    search_fields = ["=transaction_id", "customer_ref", "reason"]
    date_hierarchy = "received_at"


@admin.register(MetricRollupState)
class MetricRollupStateAdmin(ReadOnlyAdmin):
    list_display = ["metric", "built_at", "events_backfilled", "events_skipped"]
