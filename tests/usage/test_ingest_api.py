"""POST /api/v1/events: accepted, duplicate or rejected per event, exactly once, nothing dropped silently."""

import datetime as dt

import pytest

from revops import clock
from tests.usage.conftest import NOW, event
from usage.models import RejectedEvent, RollupDelta, UsageEvent
from usage.selectors import metric_usage

pytestmark = pytest.mark.django_db


def post(client, body):
    with clock.frozen_at(NOW):
        return client.post("/api/v1/events", body, format="json")


def statuses(response):
    return [(r["status"], r.get("code")) for r in response.json()["results"]]


def test_a_batch_is_accepted_and_reported_per_event(ingest_client, acme, token_metrics):
    response = post(ingest_client, {"events": [event("t1"), event("t2", customer="ws_acme_prod")]})
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 0)
    assert UsageEvent.objects.filter(customer=acme).count() == 2


def test_a_single_event_object_is_accepted(ingest_client, acme):
    response = post(ingest_client, event("solo"))
    assert response.json()["accepted"] == 1


def test_resent_events_count_once_and_conflicts_keep_the_first(ingest_client, acme, token_metrics):
    post(ingest_client, [event("t1", 100)])
    again = post(ingest_client, [event("t1", 100), event("t1", 999), event("t2", 5), event("t2", 5)])
    assert statuses(again) == [("duplicate", None), ("rejected", "conflict"), ("accepted", None), ("duplicate", None)]
    assert sorted(UsageEvent.objects.values_list("transaction_id", "properties__tokens")) == [("t1", 100), ("t2", 5)]
    assert RejectedEvent.objects.get().code == "conflict"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"customer": "nobody"}, "unknown_customer", "customer"),
        ({"timestamp": (NOW - dt.timedelta(days=36)).isoformat()}, "too_old", "timestamp"),
        ({"timestamp": (NOW + dt.timedelta(minutes=6)).isoformat()}, "in_future", "timestamp"),
        ({"timestamp": "yesterday"}, "invalid_timestamp", "timestamp"),
        ({"timestamp": "2026-11-24T10:00:00"}, "invalid_timestamp", "timestamp"),
        ({"properties": [1, 2]}, "invalid", "properties"),
        ({"properties": {"blob": "x" * 20000}}, "properties_too_large", "properties"),
        ({"properties": {"tokens": "lots", "model": "small"}}, "invalid_property", "properties.tokens"),
        ({"properties": {"model": "small"}}, "invalid_property", "properties.tokens"),
        ({"transaction_id": ""}, "invalid", "transaction_id"),
        ({"event_type": "bad type!"}, "invalid", "event_type"),
        ({"timestmap": "2026-11-24T10:00:00Z"}, "unknown_field", "timestmap"),
    ],
)
def test_bad_events_are_rejected_with_a_reason_and_the_rest_accepted(
    ingest_client, acme, token_metrics, change, code, field
):
    bad = {**event("bad"), **change}
    response = post(ingest_client, [event("good-1"), bad, event("good-2")])
    assert statuses(response) == [("accepted", None), ("rejected", code), ("accepted", None)]
    assert response.json()["results"][1]["field"] == field
    assert set(UsageEvent.objects.values_list("transaction_id", flat=True)) == {"good-1", "good-2"}
    rejected = RejectedEvent.objects.get()
    assert (rejected.code, rejected.payload) == (code, bad)


def test_timestamp_defaults_to_arrival(ingest_client, acme):
    body = event("no-ts")
    del body["timestamp"]
    post(ingest_client, [body])
    assert UsageEvent.objects.get().timestamp == NOW


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ([], 400, "invalid"),
        ("not an event", 400, "invalid"),
        ({"events": "x"}, 400, "invalid"),
        ({"events": [], "extra": 1}, 400, "invalid"),
    ],
)
def test_unusable_requests_are_refused_whole(ingest_client, acme, body, status, code):
    response = post(ingest_client, body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not UsageEvent.objects.exists()


def test_batches_over_the_limit_are_413(ingest_client, acme):
    response = post(ingest_client, [event(f"t{i}") for i in range(1001)])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    assert not UsageEvent.objects.exists()


def test_oversized_bodies_are_413(ingest_client, acme, settings):
    settings.REVOPS_EVENT_BODY_MAX_BYTES = 1000
    response = post(ingest_client, [event(f"t{i}") for i in range(20)])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_invalid_json_is_400(ingest_client, acme):
    with clock.frozen_at(NOW):
        response = ingest_client.generic("POST", "/api/v1/events", b"{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_only_keys_that_may_ingest_can_send(anon_client, read_client, write_client, acme):
    assert post(anon_client, [event("a")]).status_code == 401
    assert post(read_client, [event("b")]).status_code == 403
    assert post(write_client, [event("c")]).status_code == 200
    assert list(UsageEvent.objects.values_list("transaction_id", flat=True)) == ["c"]


def test_accepted_events_land_in_rollups_in_the_same_request(ingest_client, acme, token_metrics):
    post(ingest_client, [event("t1", 100, model="small"), event("t2", 250, model="large"), event("t3", 7)])
    tokens = {r.groups["model"]: r.value_sum for r in RollupDelta.objects.filter(metric=token_metrics["tokens"])}
    assert tokens == {"small": 107, "large": 250}
    calls = RollupDelta.objects.get(metric=token_metrics["calls"])
    assert calls.event_count == 3


def test_a_new_metric_gets_its_rollups_built_from_earlier_events_exactly_once(
    ingest_client, acme, token_metrics, django_capture_on_commit_callbacks
):
    from catalog.services import metrics as metric_services

    post(ingest_client, [event("t1", 100), event("t2", 50, model="large")])
    per_model = metric_services.metric_create(
        code="large_tokens",
        name="Large-model tokens",
        event_type="llm.completion",
        aggregation="sum",
        property="tokens",
        filters=[{"property": "model", "operator": "eq", "value": "large"}],
        actor=None,
    )
    # The first batch after the metric exists schedules its build on commit; the build counts t1, t2 and t3.
    with django_capture_on_commit_callbacks(execute=True):
        post(ingest_client, [event("t3", 25, model="large")])
    post(ingest_client, [event("t4", 5, model="large")])  # now added by ingestion itself
    total = metric_usage(customer_id=acme.pk, metric=per_model, start=NOW - dt.timedelta(days=1), end=NOW)[""]
    assert (total.quantity, total.event_count) == (80, 3)  # 50 + 25 + 5; t1 is a small-model event
