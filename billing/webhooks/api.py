"""Webhooks over the API: endpoints (register, read, change, disable, rotate the secret, test, delete),
the events sent, their deliveries with every attempt, and replay.

Reads need the read scope, changes the write scope. The signing secret is in the answer to a create
or a rotation only.
"""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from billing.webhooks import selectors
from billing.webhooks import services as services
from billing.webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent
from catalog.api.fields import IDEMPOTENCY, NamedChoiceField, referenced_as
from revops import clock
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView

TAGS = ["webhooks"]
TYPES_HELP = f'event types to send here: any of {", ".join(services.SUBSCRIBABLE)}; [] or ["*"] for all'


def _event_type(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="WebhookEventType", choices=EventType.choices, **kwargs)


def _delivery_status(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="WebhookDeliveryStatus", choices=DeliveryStatus.choices, **kwargs)


class WebhookEndpointOutput(serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="empty: every event type"
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "enabled", "created_at", "secret_rotated_at"]


class WebhookEndpointWithSecretOutput(WebhookEndpointOutput):
    secret = serializers.CharField(
        read_only=True, help_text="whsec_…: shown this once; verify signatures with it (Standard Webhooks)"
    )

    class Meta(WebhookEndpointOutput.Meta):
        fields = [*WebhookEndpointOutput.Meta.fields, "secret"]


class WebhookEndpointCreateInput(StrictInput):
    url = serializers.CharField(max_length=1000, help_text="https URL that receives POSTed events")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.CharField(), required=False, help_text=TYPES_HELP)
    enabled = serializers.BooleanField(required=False, default=True)


class WebhookEndpointUpdateInput(StrictInput):
    url = serializers.CharField(max_length=1000, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.CharField(), required=False, help_text=TYPES_HELP)
    enabled = serializers.BooleanField(required=False)


class WebhookEventOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="event_id", read_only=True, help_text="msg_…; sent as the webhook-id header")
    type = _event_type(read_only=True)
    payload = serializers.SerializerMethodField(help_text="the JSON body delivered")

    class Meta:
        model = WebhookEvent
        fields = ["id", "type", "occurred_at", "payload"]

    def get_payload(self, obj: WebhookEvent) -> dict:
        return json.loads(obj.body)


class WebhookAttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    succeeded = serializers.BooleanField()
    duration_ms = serializers.IntegerField()
    error = serializers.CharField()
    response_excerpt = serializers.CharField(help_text="the first 1 KiB of the answer")


class WebhookDeliveryOutput(serializers.ModelSerializer):
    event = serializers.CharField(source="event.event_id", read_only=True)
    event_type = _event_type(source="event.type", read_only=True)
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)
    status = _delivery_status(read_only=True)
    replay_of = serializers.IntegerField(source="replay_of_id", read_only=True, allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_type",
            "endpoint",
            "status",
            "attempts_made",
            "next_attempt_at",
            "last_error",
            "created_at",
            "completed_at",
            "replay_of",
        ]


class WebhookDeliveryDetailOutput(WebhookDeliveryOutput):
    attempts = WebhookAttemptOutput(many=True, read_only=True)

    class Meta(WebhookDeliveryOutput.Meta):
        fields = [*WebhookDeliveryOutput.Meta.fields, "attempts"]


class WebhookEventFilter(serializers.Serializer):
    type = _event_type(required=False)


class WebhookDeliveryFilter(serializers.Serializer):
    endpoint = serializers.IntegerField(required=False, min_value=1)
    event = serializers.CharField(required=False, help_text="an event id (msg_…)")
    status = _delivery_status(required=False)


class WebhookReplayInput(StrictInput):
    endpoint = serializers.IntegerField(min_value=1, help_text="the endpoint to deliver the event to again")


def _page(view, request, queryset, serializer):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


class WebhookEndpointListCreateApi(ApiView):
    """Webhook endpoints, or register one (its signing secret is in this answer only)."""

    pagination_class = Pagination

    @extend_schema(operation_id="webhook_endpoints_list", responses=WebhookEndpointOutput(many=True), tags=TAGS)
    def get(self, request):
        return _page(self, request, WebhookEndpoint.objects.order_by("pk"), WebhookEndpointOutput)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=WebhookEndpointCreateInput,
        responses={201: WebhookEndpointWithSecretOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request):
        data = WebhookEndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        made = services.webhook_endpoint_create(as_of=clock.now(), actor=request.user, **data.validated_data)
        body = WebhookEndpointWithSecretOutput(made.endpoint).data
        body["secret"] = made.secret
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(ApiView):
    """Read an endpoint, change it, or delete it (with its deliveries; the events stay)."""

    @extend_schema(operation_id="webhook_endpoints_retrieve", responses=WebhookEndpointOutput, tags=TAGS)
    def get(self, request, pk: int):
        return Response(WebhookEndpointOutput(selectors.webhook_endpoint_get(pk=pk)).data)

    @extend_schema(
        operation_id="webhook_endpoints_update",
        request=WebhookEndpointUpdateInput,
        responses=WebhookEndpointOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def patch(self, request, pk: int):
        endpoint = selectors.webhook_endpoint_get(pk=pk)
        data = WebhookEndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, actor=request.user, **data.validated_data)
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(operation_id="webhook_endpoints_delete", request=None, responses={204: None}, tags=TAGS)
    def delete(self, request, pk: int):
        services.webhook_endpoint_delete(endpoint=selectors.webhook_endpoint_get(pk=pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointDisableApi(ApiView):
    """Stop sending to an endpoint: new events skip it; its pending deliveries fail when next due."""

    @extend_schema(
        operation_id="webhook_endpoints_disable",
        request=None,
        responses=WebhookEndpointOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        endpoint = services.webhook_endpoint_disable(endpoint=selectors.webhook_endpoint_get(pk=pk), actor=request.user)
        return Response(WebhookEndpointOutput(endpoint).data)


class WebhookEndpointRotateSecretApi(ApiView):
    """A new signing secret, in this answer only; the old one keeps signing beside it for the overlap period."""

    @extend_schema(
        operation_id="webhook_endpoints_rotate_secret",
        request=None,
        responses=WebhookEndpointWithSecretOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        made = services.webhook_endpoint_rotate_secret(
            endpoint=selectors.webhook_endpoint_get(pk=pk), as_of=clock.now(), actor=request.user
        )
        body = WebhookEndpointWithSecretOutput(made.endpoint).data
        body["secret"] = made.secret
        return Response(body)


class WebhookEndpointTestApi(ApiView):
    """Send a webhook.test event to this endpoint (whatever it subscribes to)."""

    @extend_schema(
        operation_id="webhook_endpoints_test",
        request=None,
        responses={202: WebhookDeliveryOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        delivery = services.webhook_endpoint_test(
            endpoint=selectors.webhook_endpoint_get(pk=pk), as_of=clock.now(), actor=request.user
        )
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookEventListApi(ApiView):
    """Events sent (or being sent), newest first; filter by type."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="webhook_events_list",
        parameters=[WebhookEventFilter],
        responses=WebhookEventOutput(many=True),
        tags=TAGS,
    )
    def get(self, request):
        filters = WebhookEventFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = WebhookEvent.objects.order_by("-occurred_at", "-pk")
        if "type" in filters.validated_data:
            events = events.filter(type=filters.validated_data["type"])
        return _page(self, request, events, WebhookEventOutput)


class WebhookEventDetailApi(ApiView):
    """One event with the exact payload delivered."""

    @extend_schema(operation_id="webhook_events_retrieve", responses=WebhookEventOutput, tags=TAGS)
    def get(self, request, event_id: str):
        return Response(WebhookEventOutput(selectors.webhook_event_get(event_id=event_id)).data)


class WebhookEventReplayApi(ApiView):
    """Deliver an event again to an endpoint: a new delivery (same id and body), attempted and retried as usual."""

    @extend_schema(
        operation_id="webhook_events_replay",
        request=WebhookReplayInput,
        responses={202: WebhookDeliveryOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, event_id: str):
        event = selectors.webhook_event_get(event_id=event_id)
        data = WebhookReplayInput(data=request.data)
        data.is_valid(raise_exception=True)
        with referenced_as("endpoint"):
            endpoint = selectors.webhook_endpoint_get(pk=data.validated_data["endpoint"])
        delivery = services.webhook_event_replay(event=event, endpoint=endpoint, as_of=clock.now(), actor=request.user)
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(ApiView):
    """Deliveries, newest first; filter by endpoint, event or status."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="webhook_deliveries_list",
        parameters=[WebhookDeliveryFilter],
        responses=WebhookDeliveryOutput(many=True),
        tags=TAGS,
    )
    def get(self, request):
        filters = WebhookDeliveryFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return _page(self, request, selectors.webhook_deliveries(**filters.validated_data), WebhookDeliveryOutput)


class WebhookDeliveryDetailApi(ApiView):
    """One delivery with every attempt: when, the HTTP status, the answer's start, the error, how long."""

    @extend_schema(operation_id="webhook_deliveries_retrieve", responses=WebhookDeliveryDetailOutput, tags=TAGS)
    def get(self, request, pk: int):
        return Response(WebhookDeliveryDetailOutput(selectors.webhook_delivery_get(pk=pk)).data)
