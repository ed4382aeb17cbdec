"""Admin for usage: search events, see rejected events with their reasons, daily counts, rollup states."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import admin
from django.db.models import Count, Q
from django.db.models.functions import TruncDay
from django.template.response import TemplateResponse
from django.urls import path

from contracts.models import Customer
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
    search_fields = ["transaction_id"]  # see get_search_results: exact id, or the customer
    search_help_text = "An exact transaction id, or a customer's external id, ingest alias or name."
    date_hierarchy = "timestamp"
    list_select_related = ["customer"]
    show_full_result_count = False  # counting millions of rows on every page would be slow
    change_list_template = "admin/usage/usageevent/change_list.html"

    def get_search_results(self, request, queryset, search_term):
        """An exact transaction id, or the events of the customers the term names.

        Django's default search would OR case-insensitive matches across the join, which no index serves:
        on millions of events every search would scan them all. Here the customers are found first, so
        the search runs on the unique id index or on the (customer, type, time) index.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        customer_ids = list(
            Customer.objects.filter(
                Q(external_id__iexact=term) | Q(aliases__alias__iexact=term) | Q(name__icontains=term)
            ).values_list("pk", flat=True)[:100]
        )
        return queryset.filter(Q(transaction_id=term) | Q(customer_id__in=customer_ids)), False

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
