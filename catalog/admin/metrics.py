"""Billable metrics: defined and checked through catalog.services.metrics, with a preview over sample events."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html

from catalog.admin.base import ServiceAdmin, ServiceModelForm, add_domain_error, adopt, grouped
from catalog.metrics import NO_GROUP
from catalog.models import BillableMetric
from catalog.services import metrics as services
from revops import clock
from revops.errors import DomainError

EDITABLE = (*services.DEFINITION_FIELDS, *services.DESCRIPTIVE_FIELDS)


class BillableMetricForm(ServiceModelForm):
    filters = forms.JSONField(
        required=False,
        initial=list,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text='A JSON list, e.g. [{"property": "region", "operator": "in", "value": ["eu", "us"]}]; '
        "operators: eq, in, not_in, exists. Empty: every event of the type counts.",
    )

    class Meta:
        model = BillableMetric
        fields = [
            "code",
            "name",
            "description",
            "event_type",
            "aggregation",
            "property",
            "filters",
            "group_by",
            "time_unit",
            "unit_label",
        ]
        help_texts = {"group_by": "Comma-separated property names that split the quantity, e.g. model,region."}

    def clean_filters(self) -> list[Any]:
        value = self.cleaned_data.get("filters")
        return [] if value in (None, "") else value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        definition_fields = [name for name in services.DEFINITION_FIELDS if name in self.fields]
        if definition_fields:
            values = {name: getattr(self.instance, name) for name in services.DEFINITION_FIELDS}
            values.update({name: cleaned.get(name) for name in definition_fields if name in cleaned})
            values = {name: value if value is not None else "" for name, value in values.items()}
            try:
                services.metric_definition_check(values)
            except DomainError as exc:
                # A field whose own value was refused already says so; don't repeat it.
                exc.fields = {k: v for k, v in exc.fields.items() if k.split(".")[0] in cleaned}
                add_domain_error(self, exc)
        return cleaned


class MetricPreviewForm(forms.Form):
    events = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "cols": 100, "spellcheck": "false"}),
        help_text="A JSON list of events: "
        '[{"event_type": "...", "timestamp": "2026-11-01T10:00:00Z", "properties": {...}}]. '
        "Timestamps without a time zone are read as UTC.",
    )
    start = forms.DateTimeField(help_text="UTC, e.g. 2026-11-01 00:00")
    end = forms.DateTimeField(help_text="UTC; the period is [start, end): the end is not included")
    group_key = forms.ChoiceField(required=False, label="Split by")

    def __init__(self, *args: Any, metric: BillableMetric, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group_key"].choices = [("", "— one total —")] + [(key, key) for key in metric.group_by]

    def clean_events(self) -> list[dict[str, Any]]:
        try:
            raw = json.loads(self.cleaned_data["events"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"this is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(raw, list):
            raise forms.ValidationError("paste a JSON list of events: [ {...}, {...} ]")
        events, problems = [], []
        for number, item in enumerate(raw, start=1):
            event, problem = _parse_event(item)
            if problem:
                problems.append(f"event {number}: {problem}")
            else:
                events.append(event)
        if problems:
            shown = problems[:10] + ([f"… and {len(problems) - 10} more"] if len(problems) > 10 else [])
            raise forms.ValidationError(shown)
        return events


def _parse_event(item: Any) -> tuple[dict[str, Any], str]:
    if not isinstance(item, dict):
        return {}, "an event is an object with event_type, timestamp and properties"
    unknown = set(item) - {"event_type", "timestamp", "properties", "transaction_id"}
    if unknown:
        return {}, f"unknown key(s) {', '.join(sorted(unknown))}"
    if not isinstance(item.get("event_type"), str) or not item["event_type"]:
        return {}, "event_type is missing (a string such as “llm.completion”)"
    stamp = item.get("timestamp")
    try:
        moment = dt.datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        moment = None
    if moment is None:
        return {}, f"timestamp {stamp!r} is not an ISO 8601 date and time (2026-11-01T10:00:00Z)"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    properties = item.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        return {}, "properties must be an object"
    return {"event_type": item["event_type"], "timestamp": moment, "properties": properties}, ""


def _example_events(metric: BillableMetric) -> str:
    properties: dict[str, Any] = {}
    if metric.property:
        properties[metric.property] = 10
    for key in metric.group_by:
        properties[key] = "a"
    start = clock.now().replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    events = [
        {"event_type": metric.event_type, "timestamp": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "properties": properties}
    ]
    return json.dumps(events, indent=2)


def _month_bounds() -> tuple[dt.datetime, dt.datetime]:
    start = clock.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


@admin.register(BillableMetric)
class BillableMetricAdmin(ServiceAdmin):
    form = BillableMetricForm
    list_display = ["code", "name", "event_type", "aggregation", "property", "group_by_display", "unit_label"]
    list_filter = ["aggregation"]
    search_fields = ["code", "name", "event_type", "property", "description"]
    readonly_fields = ["created_at", "updated_at", "preview_link"]

    @admin.display(description="group by")
    def group_by_display(self, obj: BillableMetric) -> str:
        return ", ".join(obj.group_by)

    @admin.display(description="preview")
    def preview_link(self, obj: BillableMetric) -> str:
        if obj.pk is None:
            return "available once the metric is saved"
        url = reverse(f"{self.admin_site.name}:catalog_billablemetric_preview", args=[obj.pk])
        return format_html('<a href="{}">Try this metric on sample events</a>', url)

    def get_fieldsets(self, request, obj=None):
        definition = ["event_type", "aggregation", "property", "filters", "group_by", "time_unit"]
        extra = ["preview_link", "created_at", "updated_at"] if obj else []
        what_counts: dict[str, Any] = {"fields": definition}
        if obj is not None and services.metric_is_in_use(obj):
            what_counts["description"] = (
                "Frozen: an active rate card version prices a product from this metric, so invoices depend on "
                "this definition. To count differently, create a new metric and price it in a new draft version."
            )
        return [
            (None, {"fields": ["code", "name", "description", "unit_label"]}),
            ("What counts", what_counts),
            *self.reason_fieldset(request, obj),
            (None, {"fields": extra}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        frozen = list(services.DEFINITION_FIELDS) if services.metric_is_in_use(obj) else []
        return ["code", *frozen, *self.readonly_fields]

    def has_delete_permission(self, request, obj=None):
        return False  # products and invoices refer to metrics forever; there is no delete service

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE}
            saved = services.metric_update(
                metric=obj, actor=request.user, reason=form.reason("edited in the admin"), **changes
            )
        else:
            fields = {name: form.cleaned_data[name] for name in BillableMetricForm.Meta.fields}
            fields["filters"] = fields["filters"] or []
            saved = services.metric_create(actor=request.user, reason=form.reason("created in the admin"), **fields)
        adopt(obj, saved)

    # --- the preview page ------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="catalog_billablemetric_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request, object_id):
        metric = self.get_object(request, object_id)
        if metric is None:
            raise Http404("no such metric")
        if not self.has_view_permission(request, metric):
            raise PermissionDenied
        start, end = _month_bounds()
        initial = {"events": _example_events(metric), "start": start, "end": end}
        form = MetricPreviewForm(request.POST or request.GET or None, metric=metric, initial=initial)
        results = None
        if form.is_bound and form.is_valid():
            try:
                groups = services.metric_preview(
                    definition=services.definition_of(metric),
                    events=form.cleaned_data["events"],
                    start=form.cleaned_data["start"],
                    end=form.cleaned_data["end"],
                    group_key=form.cleaned_data["group_key"] or None,
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                split = bool(form.cleaned_data["group_key"])
                results = {
                    "given": len(form.cleaned_data["events"]),
                    "counted": sum(group.event_count for group in groups.values()),
                    "total": grouped(sum((group.quantity for group in groups.values()), start=Decimal(0))),
                    "split": split,
                    "rows": [
                        {
                            "group": (value if value != NO_GROUP else "(no value)") if split else "all events",
                            "quantity": grouped(group.quantity),
                            "events": group.event_count,
                        }
                        for value, group in sorted(groups.items())
                    ],
                }
        return self.render_page(
            request,
            "admin/catalog/billablemetric/preview.html",
            metric,
            f"Preview {metric}",
            form=form,
            results=results,
            metric=metric,
        )
