"""Webhooks over the API: register (secret shown once), read, change, disable, rotate, test, delete; events,
deliveries and replay. Scopes: reads need read, changes need write; a refused request changes nothing."""

import pytest

from billing.webhooks.delivery import webhook_delivery_attempt
from billing.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from billing.webhooks.services import webhook_emit
from tests.billing.webhook_receiver import now

pytestmark = pytest.mark.django_db

BASE = "/api/v1/webhook-endpoints"
GOOD = {"url": "https://crm.example.com/hooks/revops", "description": "CRM", "event_types": ["invoice.paid"]}


def test_register_shows_the_secret_once_and_never_in_reads(write_client):
    response = write_client.post(BASE, GOOD, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert (body["url"], body["event_types"], body["enabled"]) == (GOOD["url"], ["invoice.paid"], True)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == body["secret"]
    for read in (write_client.get(f"{BASE}/{body['id']}"), write_client.get(BASE)):
        assert read.status_code == 200
        assert body["secret"] not in read.content.decode()
        assert "secret" not in (read.json() if "results" not in read.json() else read.json()["results"][0])
    assert "secret" not in write_client.patch(f"{BASE}/{body['id']}", {"description": "x"}, format="json").json()
    assert endpoint.history.count() == 2
    assert not endpoint.history.filter(history_change_reason__icontains="whsec_").exists()


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"url": "not a url"}, "url", "invalid"),
        ({"url": "ftp://crm.example.com/x"}, "url", "invalid"),
        ({"url": "http://crm.example.com/x"}, "url", "insecure_url"),
        ({"event_types": ["invoice.exploded"]}, "event_types", "unknown_event_type"),
        ({"event_types": ["webhook.test"]}, "event_types", "unknown_event_type"),
        ({"event_types": ["*", "invoice.paid"]}, "event_types", "invalid"),
        ({"secret": "whsec_mine"}, "secret", "invalid"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_registered(write_client, change, field, code):
    response = write_client.post(BASE, {**GOOD, **change}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], list(error["fields"])) == (code, [field])
    assert not WebhookEndpoint.objects.exists()


def test_plain_http_is_allowed_only_when_the_setting_says_so(write_client, settings):
    plain = {**GOOD, "url": "http://127.0.0.1:9/hooks"}
    assert write_client.post(BASE, plain, format="json").status_code == 400
    settings.REVOPS_WEBHOOK_ALLOW_HTTP = True
    assert write_client.post(BASE, plain, format="json").status_code == 201


def test_all_event_types_as_star_or_empty(write_client):
    star = write_client.post(BASE, {**GOOD, "event_types": ["*"]}, format="json").json()
    empty = write_client.post(BASE, {"url": GOOD["url"]}, format="json").json()
    assert star["event_types"] == empty["event_types"] == []
    assert all(e.wants("commit.low_balance") for e in WebhookEndpoint.objects.all())


def test_update_disable_rotate_and_delete(write_client):
    made = write_client.post(BASE, GOOD, format="json").json()
    one = f"{BASE}/{made['id']}"
    changed = write_client.patch(one, {"url": "https://erp.example.com/in", "event_types": []}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["url"], changed.json()["event_types"]) == ("https://erp.example.com/in", [])
    bad = write_client.patch(one, {"url": "nope"}, format="json")
    assert bad.status_code == 400
    assert WebhookEndpoint.objects.get().url == "https://erp.example.com/in"
    assert write_client.post(f"{one}/disable").json()["enabled"] is False
    assert write_client.patch(one, {"enabled": True}, format="json").json()["enabled"] is True
    rotated = write_client.post(f"{one}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    assert rotated["secret_rotated_at"] is not None
    assert write_client.delete(one).status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert write_client.get(one).status_code == 404
    assert write_client.get(one).json()["error"]["code"] == "webhook_endpoint_not_found"


def test_scopes_reads_need_read_and_changes_need_write(read_client, write_client, ingest_client, anon_client):
    made = write_client.post(BASE, GOOD, format="json").json()
    one = f"{BASE}/{made['id']}"
    assert read_client.get(BASE).status_code == 200
    assert read_client.get(one).status_code == 200
    assert read_client.get("/api/v1/webhook-events").status_code == 200
    assert read_client.get("/api/v1/webhook-deliveries").status_code == 200
    for client in (read_client, ingest_client, anon_client):
        assert client.post(BASE, GOOD, format="json").status_code in (401, 403)
        assert client.patch(one, {"description": "hijacked"}, format="json").status_code in (401, 403)
        assert client.post(f"{one}/disable").status_code in (401, 403)
        assert client.post(f"{one}/rotate-secret").status_code in (401, 403)
        assert client.delete(one).status_code in (401, 403)
    assert ingest_client.get(BASE).status_code == 403
    assert anon_client.get(BASE).status_code in (401, 403)
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.description, endpoint.enabled, endpoint.secret) == ("CRM", True, made["secret"])


def test_events_deliveries_and_replay(write_client, read_client, webhook_endpoint, webhook_receiver):
    at = now()
    event = webhook_emit(event_type="invoice.paid", data={"id": 3, "total": "10.00"}, as_of=at)
    webhook_emit(event_type="invoice.voided", data={"id": 4}, as_of=at)
    first = event.deliveries.get()
    webhook_receiver.answers = [500]
    webhook_delivery_attempt(delivery_id=first.pk, as_of=at)

    events = read_client.get("/api/v1/webhook-events", {"type": "invoice.paid"}).json()
    assert events["count"] == 1
    assert events["results"][0]["id"] == event.event_id
    assert events["results"][0]["payload"]["data"] == {"id": 3, "total": "10.00"}
    assert read_client.get(f"/api/v1/webhook-events/{event.event_id}").json()["type"] == "invoice.paid"
    assert read_client.get("/api/v1/webhook-events/msg_nope").status_code == 404

    listed = read_client.get("/api/v1/webhook-deliveries", {"event": event.event_id}).json()["results"]
    assert [(d["id"], d["status"], d["attempts_made"]) for d in listed] == [(first.pk, "pending", 1)]
    detail = read_client.get(f"/api/v1/webhook-deliveries/{first.pk}").json()
    assert [(a["number"], a["status_code"], a["succeeded"]) for a in detail["attempts"]] == [(1, 500, False)]
    assert detail["last_error"] == "answered 500"

    replay = f"/api/v1/webhook-events/{event.event_id}/replay"
    assert read_client.post(replay, {"endpoint": webhook_endpoint.pk}, format="json").status_code == 403
    missing = write_client.post(replay, {"endpoint": 999999}, format="json")
    assert (missing.status_code, list(missing.json()["error"]["fields"])) == (400, ["endpoint"])
    assert WebhookDelivery.objects.filter(event=event).count() == 1
    answer = write_client.post(replay, {"endpoint": webhook_endpoint.pk}, format="json")
    assert answer.status_code == 202
    again = WebhookDelivery.objects.get(pk=answer.json()["id"])
    assert (again.event, again.endpoint, again.status) == (event, webhook_endpoint, DeliveryStatus.PENDING)
    webhook_delivery_attempt(delivery_id=again.pk, as_of=at)
    statuses = read_client.get("/api/v1/webhook-deliveries", {"event": event.event_id, "status": "succeeded"})
    assert [d["id"] for d in statuses.json()["results"]] == [again.pk]
    assert webhook_receiver.received[-1].verified


def test_send_a_test_event(write_client, webhook_endpoint):
    answer = write_client.post(f"{BASE}/{webhook_endpoint.pk}/test")
    assert answer.status_code == 202
    assert answer.json()["event_type"] == "webhook.test"
    assert WebhookEvent.objects.get().type == "webhook.test"
