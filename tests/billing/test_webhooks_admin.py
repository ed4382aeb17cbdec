"""The webhook admin as finance staff use it: register (secret shown once), rotate, test, replay."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from billing.webhooks.delivery import webhook_delivery_attempt
from billing.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from billing.webhooks.services import webhook_emit
from tests.billing.webhook_receiver import now

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"admin:billing_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_register_an_endpoint_and_see_its_secret_once(admin_client):
    response = admin_client.post(
        url("webhookendpoint_add"),
        {"url": "https://crm.example.com/in", "description": "CRM", "event_types": ["invoice.paid"], "enabled": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.event_types, endpoint.created_by.username) == (
        "https://crm.example.com/in",
        ["invoice.paid"],
        "admin",
    )
    [shown] = [m for m in messages_of(response) if "whsec_" in m]
    assert endpoint.secret in shown
    # the page after the save shows the message once; from then on the secret is nowhere
    assert endpoint.secret in admin_client.get(response["Location"]).content.decode()
    page = admin_client.get(url("webhookendpoint_change", endpoint.pk)).content.decode()
    assert endpoint.secret not in page
    assert endpoint.secret not in admin_client.get(url("webhookendpoint_changelist")).content.decode()
    assert admin_client.get(url("webhookendpoint_history", endpoint.pk)).status_code == 200


def test_bad_input_in_the_admin_is_shown_and_nothing_is_saved(admin_client):
    response = admin_client.post(url("webhookendpoint_add"), {"url": "http://crm.example.com/in", "enabled": "on"})
    assert response.status_code == 200
    assert "plain http is refused" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotate_test_and_replay_actions(admin_client, webhook_endpoint, webhook_receiver):
    old = webhook_endpoint.secret
    response = admin_client.post(
        url("webhookendpoint_changelist"), {"action": "rotate_secret", "_selected_action": [webhook_endpoint.pk]}
    )
    webhook_endpoint.refresh_from_db()
    assert webhook_endpoint.secret != old
    assert any(webhook_endpoint.secret in m for m in messages_of(response))

    admin_client.post(
        url("webhookendpoint_changelist"), {"action": "send_test_event", "_selected_action": [webhook_endpoint.pk]}
    )
    assert WebhookEvent.objects.filter(type="webhook.test").count() == 1

    at = now()
    event = webhook_emit(event_type="invoice.paid", data={"id": 1}, as_of=at)
    delivery = event.deliveries.get()
    webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at)
    admin_client.post(url("webhookdelivery_changelist"), {"action": "replay", "_selected_action": [delivery.pk]})
    replayed = WebhookDelivery.objects.get(replay_of=delivery)
    assert (replayed.event, replayed.endpoint, replayed.created_by.username) == (event, webhook_endpoint, "admin")

    for page in (
        url("webhookendpoint_changelist"),
        url("webhookevent_changelist"),
        url("webhookevent_change", event.pk),
        url("webhookdelivery_changelist"),
        url("webhookdelivery_change", delivery.pk),
    ):
        assert admin_client.get(page).status_code == 200, page
    detail = admin_client.get(url("webhookdelivery_change", delivery.pk)).content.decode()
    assert "attempt" in detail.lower() and "200" in detail
    assert admin_client.get(url("webhookdelivery_add")).status_code == 403


def test_disable_and_enable_actions(admin_client, webhook_endpoint):
    changelist = url("webhookendpoint_changelist")
    admin_client.post(changelist, {"action": "disable", "_selected_action": [webhook_endpoint.pk]})
    webhook_endpoint.refresh_from_db()
    assert not webhook_endpoint.enabled
    admin_client.post(changelist, {"action": "enable", "_selected_action": [webhook_endpoint.pk]})
    webhook_endpoint.refresh_from_db()
    assert webhook_endpoint.enabled
