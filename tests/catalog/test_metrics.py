"""The reference aggregation (catalog/metrics.py): what each aggregation means, worked out by hand."""

import datetime as dt
from decimal import Decimal as D

import pytest

from catalog.metrics import EventValueError, MetricDefinitionError, aggregate, parse_definition

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def ev(hours: float, event_type: str = "llm.completion", **properties):
    return {"event_type": event_type, "timestamp": START + dt.timedelta(hours=hours), "properties": properties}


EVENTS = [
    ev(1, tokens=100, model="small", user="u1", region="eu"),
    ev(2, tokens=250, model="large", user="u2", region="us"),
    ev(3, tokens="50", model="small", user="u1", region="eu"),  # numeric strings count as numbers
    ev(4, tokens=7, model="small", user="u3"),  # no region
    ev(-1, tokens=1000, model="small", user="u9"),  # before the period
    ev(24 * 30, tokens=1000, model="small", user="u9"),  # at END: outside [start, end)
    ev(5, "api.request", tokens=999),  # another event type
]


@pytest.mark.parametrize(
    ("definition", "group_key", "expected"),
    [
        ({"aggregation": "count"}, None, {"": D(4)}),
        ({"aggregation": "sum", "property": "tokens"}, None, {"": D(407)}),  # 100 + 250 + 50 + 7
        ({"aggregation": "max", "property": "tokens"}, None, {"": D(250)}),
        ({"aggregation": "latest", "property": "tokens"}, None, {"": D(7)}),  # the event at hour 4
        ({"aggregation": "unique_count", "property": "user"}, None, {"": D(3)}),  # u1, u2, u3
        (
            {"aggregation": "sum", "property": "tokens", "group_by": ["model"]},
            "model",
            {"small": D(157), "large": D(250)},
        ),
        (
            {"aggregation": "count", "filters": [{"property": "region", "operator": "eq", "value": "eu"}]},
            None,
            {"": D(2)},
        ),
        (
            {"aggregation": "count", "filters": [{"property": "region", "operator": "in", "value": ["eu", "us"]}]},
            None,
            {"": D(3)},
        ),
        (
            {"aggregation": "count", "filters": [{"property": "region", "operator": "not_in", "value": ["eu"]}]},
            None,
            {"": D(2)},
        ),  # "us" and the event without a region
        ({"aggregation": "count", "filters": [{"property": "region", "operator": "exists"}]}, None, {"": D(3)}),
        (
            {"aggregation": "count", "filters": [{"property": "region", "operator": "exists", "value": False}]},
            None,
            {"": D(1)},
        ),
    ],
)
def test_aggregations_over_a_period(definition, group_key, expected):
    parsed = parse_definition(event_type="llm.completion", **definition)
    result = aggregate(parsed, EVENTS, start=START, end=END, group_key=group_key)
    assert {group: q.quantity for group, q in result.items()} == expected


def test_sum_keeps_event_values_for_percentage_prices():
    parsed = parse_definition(event_type="llm.completion", aggregation="sum", property="tokens")
    result = aggregate(parsed, EVENTS, start=START, end=END)[""]
    assert result.event_count == 4
    assert result.values == [D(100), D(250), D(50), D(7)]


def test_time_weighted_sum_carries_the_level_across_the_period():
    parsed = parse_definition(
        event_type="storage.level", aggregation="time_weighted_sum", property="gb", time_unit="hour"
    )
    events = [
        ev(-10, "storage.level", gb=10),  # 10 GB before the period: carried in from the start
        ev(24, "storage.level", gb=30),  # 30 GB from day 2
        ev(48, "storage.level", gb=0),  # deleted on day 3
        ev(24 * 29, "storage.level", gb=5),  # 5 GB for the last day
    ]
    # 10 GB x 24 h + 30 GB x 24 h + 0 + 5 GB x 24 h = 240 + 720 + 120 = 1,080 GB-hours
    assert aggregate(parsed, events, start=START, end=END)[""].quantity == D(1080)


def test_time_weighted_sum_in_days_and_with_given_carry_in():
    parsed = parse_definition(
        event_type="storage.level", aggregation="time_weighted_sum", property="gb", time_unit="day"
    )
    # 2 GB all 30 days of November from the carried-in level, no events: 60 GB-days
    assert aggregate(parsed, [], start=START, end=END, carry_in={"": D(2)})[""].quantity == D(60)


def test_a_missing_number_is_an_error_not_a_zero():
    parsed = parse_definition(event_type="llm.completion", aggregation="sum", property="tokens")
    with pytest.raises(EventValueError, match="tokens"):
        aggregate(parsed, [ev(1, tokens="lots")], start=START, end=END)
    with pytest.raises(EventValueError):
        aggregate(parsed, [ev(1, model="small")], start=START, end=END)


def test_definition_problems_are_all_reported_at_once():
    with pytest.raises(MetricDefinitionError) as excinfo:
        parse_definition(event_type="bad type!", aggregation="sum", property="", group_by=["1x"])
    assert {field for field, _ in excinfo.value.problems} == {"event_type", "property", "group_by.0"}


def test_group_key_must_be_a_group_by_property():
    parsed = parse_definition(event_type="llm.completion", aggregation="count", group_by=["model"])
    with pytest.raises(ValueError, match="group-by"):
        aggregate(parsed, EVENTS, start=START, end=END, group_key="region")
