from django.urls import path

from billing.webhooks import api

ENDPOINT = "webhook-endpoints/<int:pk>"
EVENT = "webhook-events/<str:event_id>"

urlpatterns = [
    path("webhook-endpoints", api.WebhookEndpointListCreateApi.as_view(), name="webhook-endpoints"),
    path(ENDPOINT, api.WebhookEndpointDetailApi.as_view(), name="webhook-endpoint-detail"),
    path(f"{ENDPOINT}/disable", api.WebhookEndpointDisableApi.as_view(), name="webhook-endpoint-disable"),
    path(f"{ENDPOINT}/rotate-secret", api.WebhookEndpointRotateSecretApi.as_view(), name="webhook-endpoint-rotate"),
    path(f"{ENDPOINT}/test", api.WebhookEndpointTestApi.as_view(), name="webhook-endpoint-test"),
    path("webhook-events", api.WebhookEventListApi.as_view(), name="webhook-events"),
    path(EVENT, api.WebhookEventDetailApi.as_view(), name="webhook-event-detail"),
    path(f"{EVENT}/replay", api.WebhookEventReplayApi.as_view(), name="webhook-event-replay"),
    path("webhook-deliveries", api.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
    path("webhook-deliveries/<int:pk>", api.WebhookDeliveryDetailApi.as_view(), name="webhook-delivery-detail"),
]
