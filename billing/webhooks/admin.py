"""Webhook admin: endpoints (secret shown once; rotate, test, disable, enable), events, and deliveries with
their attempts and a replay action. Every change goes through a service; deliveries are read-only."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from billing.webhooks import services
from billing.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from revops import clock
from revops.errors import DomainError

TYPE_CHOICES = [(t, t) for t in services.SUBSCRIBABLE]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=1000, assume_scheme="https", help_text="where events are POSTed")
    event_types = forms.MultipleChoiceField(
        choices=TYPE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="none ticked: every event type",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "enabled"]

    def clean_url(self):
        try:
            return services.clean_url(self.cleaned_data["url"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None


def _each(request, queryset, do, done: str) -> None:
    count = 0
    for obj in queryset:
        try:
            do(obj)
            count += 1
        except DomainError as exc:
            messages.error(request, f"{obj}: {exc.message}")
    if count:
        messages.success(request, f"{done}: {count}.")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SimpleHistoryAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "types", "enabled", "created_at", "secret_rotated_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "description"]
    readonly_fields = ["created_at", "created_by", "secret_rotated_at"]
    actions = ["rotate_secret", "send_test_event", "disable", "enable"]

    def revert_disabled(self, request, obj=None):
        return True  # history leaves the secret out, so a revert would save an endpoint without one

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("history is read-only here; change the endpoint itself")
        return super().history_form_view(request, object_id, version_id, extra_context)

    @admin.display(description="event types")
    def types(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) or "all"

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in ["url", "description", "event_types", "enabled"]}
        if change:
            saved = services.webhook_endpoint_update(endpoint=obj, actor=request.user, **data)
        else:
            made = services.webhook_endpoint_create(as_of=clock.now(), actor=request.user, **data)
            saved = made.endpoint
            messages.warning(request, f"Signing secret (copy it now; it is not shown again): {made.secret}")
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.webhook_endpoint_delete(endpoint=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)

    @admin.action(description="Rotate the signing secret (the new one is shown once)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            made = services.webhook_endpoint_rotate_secret(endpoint=endpoint, as_of=clock.now(), actor=request.user)
            messages.warning(request, f"{endpoint}: new signing secret (copy it now; not shown again): {made.secret}")

    @admin.action(description="Send a test event")
    def send_test_event(self, request, queryset):
        def send(endpoint):
            services.webhook_endpoint_test(endpoint=endpoint, as_of=clock.now(), actor=request.user)

        _each(request, queryset, send, "Test events queued")

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        _each(
            request,
            queryset,
            lambda e: services.webhook_endpoint_disable(endpoint=e, actor=request.user),
            "Disabled",
        )

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        _each(
            request,
            queryset,
            lambda e: services.webhook_endpoint_update(endpoint=e, enabled=True, actor=request.user),
            "Enabled",
        )


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WebhookDeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = WebhookDelivery
    fk_name = "event"
    fields = ["delivery", "endpoint", "status", "attempts_made", "next_attempt_at", "last_error"]
    readonly_fields = fields
    extra = 0

    @admin.display(description="delivery")
    def delivery(self, obj: WebhookDelivery) -> str:
        url = reverse("admin:billing_webhookdelivery_change", args=[obj.pk])
        return format_html('<a href="{}">#{}</a>', url, obj.pk)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["event_id", "type", "occurred_at", "deliveries_"]
    list_filter = ["type"]
    search_fields = ["event_id"]
    fields = ["event_id", "type", "occurred_at", "payload"]
    readonly_fields = fields
    inlines = [WebhookDeliveryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(delivery_count=Count("deliveries"))

    @admin.display(description="deliveries", ordering="delivery_count")
    def deliveries_(self, obj: WebhookEvent) -> int:
        return obj.delivery_count

    @admin.display(description="payload (the exact body sent)")
    def payload(self, obj: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False))


class WebhookAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "attempted_at", "status_code", "succeeded", "duration_ms", "error", "response_excerpt"]
    readonly_fields = fields
    extra = 0


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["pk", "event", "endpoint", "status", "attempts_made", "next_attempt_at", "last_error", "created_at"]
    list_filter = ["status", "event__type"]
    search_fields = ["event__event_id", "endpoint__url"]
    list_select_related = ["event", "endpoint"]
    fields = [
        "event",
        "endpoint",
        "status",
        "attempts_made",
        "next_attempt_at",
        "last_error",
        "created_at",
        "completed_at",
        "replay_of",
        "created_by",
    ]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # Actions need a permission to show; replay needs the right to change deliveries' endpoints.
        actions = super().get_actions(request)
        if not request.user.has_perm("billing.change_webhookendpoint"):
            actions.pop("replay", None)
        return actions

    @admin.action(description="Replay: deliver the event again to the same endpoint")
    def replay(self, request, queryset):
        def again(delivery):
            services.webhook_event_replay(
                event=delivery.event,
                endpoint=delivery.endpoint,
                as_of=clock.now(),
                actor=request.user,
                replay_of=delivery,
            )

        _each(request, queryset, again, "Replays queued")
