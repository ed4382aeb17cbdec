"""Metric previews over sample events, each aggregation worked out by hand."""

import pytest

from catalog.models import BillableMetric

pytestmark = pytest.mark.django_db

DAY = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}


def _event(event_type, at, **properties):
    return {"event_type": event_type, "timestamp": f"2026-11-{at}Z", "properties": properties}


def _preview(client, definition, events, period=DAY, **extra):
    response = client.post(
        "/api/v1/metrics/preview", {**definition, "events": events, **period, **extra}, format="json"
    )
    assert response.status_code == 200, response.json()
    return response.json()


def _groups(*rows):
    return [{"group": group, "quantity": quantity, "event_count": count} for group, quantity, count in rows]


def test_count_with_a_filter_over_the_half_open_period(write_client):
    definition = {
        "event_type": "api.request",
        "aggregation": "count",
        "filters": [{"property": "region", "operator": "in", "value": ["eu", "uk"]}],
    }
    events = [
        _event("api.request", "01T01:00:00", region="eu"),  # counts
        _event("api.request", "01T02:00:00", region="us"),  # filtered out
        _event("api.request", "01T03:00:00", region="uk"),  # counts
        _event("api.request", "01T04:00:00"),  # no region: "in" does not match
        _event("api.other", "01T05:00:00", region="eu"),  # another event type
        _event("api.request", "02T00:00:00", region="eu"),  # the end is excluded
        _event("api.request", "01T00:00:00", region="eu"),  # the start is included
        {"event_type": "api.request", "timestamp": "2026-10-31T23:59:59Z", "properties": {"region": "eu"}},
    ]
    assert _preview(write_client, definition, events) == {"group_key": None, "groups": _groups(("", "3", 3))}


def test_sum_per_group_value_and_in_total(write_client):
    definition = {"event_type": "llm.completion", "aggregation": "sum", "property": "tokens", "group_by": ["model"]}
    events = [
        _event("llm.completion", "01T01:00:00", model="small", tokens=1200),
        _event("llm.completion", "01T02:00:00", model="small", tokens="300.5"),
        _event("llm.completion", "01T03:00:00", model="large", tokens=50),
        _event("llm.completion", "01T04:00:00", tokens=7),  # no model: the "" group
    ]
    by_model = _preview(write_client, definition, events, group_key="model")
    # small: 1,200 + 300.5; large: 50; no model: 7.
    assert by_model == {
        "group_key": "model",
        "groups": _groups(("", "7", 1), ("large", "50", 1), ("small", "1500.5", 2)),
    }
    # Without a group key: 1,500.5 + 50 + 7.
    assert _preview(write_client, definition, events)["groups"] == _groups(("", "1557.5", 4))


def test_unique_count_tells_a_number_from_a_string(write_client):
    definition = {"event_type": "login", "aggregation": "unique_count", "property": "user"}
    events = [
        _event("login", "01T01:00:00", user="u1"),
        _event("login", "01T02:00:00", user="u2"),
        _event("login", "01T03:00:00", user="u1"),
        _event("login", "01T04:00:00", user=3),
        _event("login", "01T05:00:00", user="3"),
        _event("login", "01T06:00:00"),  # counted as an event, adds no user
    ]
    # Distinct: "u1", "u2", 3 and "3" (a number and a string differ) = 4, over 6 events.
    assert _preview(write_client, definition, events)["groups"] == _groups(("", "4", 6))


def test_max(write_client):
    definition = {"event_type": "db.size", "aggregation": "max", "property": "gb"}
    events = [
        _event("db.size", "01T01:00:00", gb=10),
        _event("db.size", "01T02:00:00", gb="12.5"),
        _event("db.size", "01T03:00:00", gb=7),
        _event("db.size", "02T01:00:00", gb=99),  # after the period
    ]
    assert _preview(write_client, definition, events)["groups"] == _groups(("", "12.5", 3))


def test_latest_goes_by_timestamp_not_by_order_sent(write_client):
    definition = {"event_type": "seats.reported", "aggregation": "latest", "property": "seats"}
    events = [
        _event("seats.reported", "01T03:00:00", seats=5),  # the last one in time
        _event("seats.reported", "01T01:00:00", seats=9),
        _event("seats.reported", "01T02:00:00", seats=11),
        _event("seats.reported", "02T00:00:00", seats=100),  # at the end: outside
    ]
    assert _preview(write_client, definition, events)["groups"] == _groups(("", "5", 3))


@pytest.mark.parametrize(
    ("time_unit", "levels", "quantity", "count"),
    [
        # 10 GB carried in from 09:00 holds until 10:30 (0.5 h = 5), 20 GB until 11:45 (1.25 h = 25),
        # 4 GB until the 12:00 end (0.25 h = 1): 31 GB-hours. The 09:00 and 12:30 reports are outside.
        ("hour", [("09:00", 10), ("10:30", 20), ("11:45", 4), ("12:30", 100)], "31", 2),
        # No level before the first report: 20 GB from 10:30 to 12:00 = 1.5 h = 30.
        ("hour", [("10:30", 20)], "30", 1),
        # 20 GB for 90 minutes = 1,800 GB-minutes.
        ("minute", [("10:30", 20)], "1800", 1),
        # 24 GB for 2 hours = 1/12 day x 24 = 2 GB-days.
        ("day", [("10:00", 24)], "2", 1),
    ],
)
def test_time_weighted_sum(write_client, time_unit, levels, quantity, count):
    definition = {"event_type": "storage.level", "aggregation": "time_weighted_sum", "property": "gb"}
    events = [_event("storage.level", f"01T{at}:00", gb=gb) for at, gb in levels]
    period = {"start": "2026-11-01T10:00:00Z", "end": "2026-11-01T12:00:00Z"}
    result = _preview(write_client, {**definition, "time_unit": time_unit}, events, period)
    assert result["groups"] == _groups(("", quantity, count))


def test_a_saved_metric_previews_the_same_way(write_client):
    body = {"code": "calls", "name": "Calls", "event_type": "api.request", "aggregation": "count", "group_by": ["plan"]}
    assert write_client.post("/api/v1/metrics", body, format="json").status_code == 201
    events = [
        _event("api.request", "01T01:00:00", plan="pro"),
        _event("api.request", "01T02:00:00", plan="pro"),
        _event("api.request", "01T03:00:00", plan="free"),
    ]
    response = write_client.post(
        "/api/v1/metrics/calls/preview", {"events": events, **DAY, "group_key": "plan"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["groups"] == _groups(("free", "1", 1), ("pro", "2", 2))
    assert BillableMetric.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # a sum over an event that lacks the number
        ({"events": [_event("x", "01T01:00:00", other=1)]}, "events"),
        ({"events": [_event("x", "01T01:00:00", n="many")]}, "events"),
        # a time without its offset, a missing event type, an unknown key
        ({"events": [{"event_type": "x", "timestamp": "2026-11-01T01:00:00", "properties": {"n": 1}}]},
         "events.0.timestamp"),
        ({"events": [{"timestamp": "2026-11-01T01:00:00Z", "properties": {"n": 1}}]}, "events.0.event_type"),
        ({"events": [{**_event("x", "01T01:00:00", n=1), "id": "e1"}]}, "events.0.id"),
        ({"events": [], "end": "2026-11-01T00:00:00Z"}, "end"),
        ({"events": [], "aggregation": "count"}, "property"),
        ({"events": [], "save": True}, "save"),
    ],
)  # fmt: skip
def test_bad_previews_are_refused_naming_the_field(write_client, body, field):
    definition = {"event_type": "x", "aggregation": "sum", "property": "n"}
    response = write_client.post("/api/v1/metrics/preview", {**definition, **DAY, **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"], response.json()
    assert not BillableMetric.objects.exists()
