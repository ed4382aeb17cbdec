"""Billable metric definitions: validation and the reference aggregation over a list of events.

Pure Python (no Django), like the rating engine. The usage app aggregates in
PostgreSQL for speed; this module is the executable definition of what each
aggregation means, used by the metric preview and by tests as the yardstick.

An event here is a mapping with `event_type`, `timestamp` (aware datetime) and
`properties` (a dict). Aggregations over a half-open period [start, end):

- count: the number of matching events;
- sum / max: of a numeric property;
- unique_count: the number of distinct values of a property;
- latest: the numeric property of the last event (by timestamp) in the period;
- time_weighted_sum: each event reports a level (e.g. GB stored) that holds until
  the next event; the quantity is level x time in `time_unit`, integrated over the
  period. The level at the period's start is the last level reported before it
  (`carry_in`), so a customer who stores 10 GB all month is billed all month.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

AGGREGATIONS = ("count", "sum", "max", "unique_count", "latest", "time_weighted_sum")
NUMERIC_AGGREGATIONS = frozenset({"sum", "max", "latest", "time_weighted_sum"})
FILTER_OPERATORS = ("eq", "in", "not_in", "exists")
TIME_UNITS = {
    "second": Decimal(1),
    "minute": Decimal(60),
    "hour": Decimal(3600),
    "day": Decimal(86400),
}
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
EVENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
NO_GROUP = ""  # the group value of events that lack a group-by property


class MetricDefinitionError(ValueError):
    """A metric definition that cannot work; `problems` lists every (field, message)."""

    def __init__(self, problems: Iterable[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))


class EventValueError(ValueError):
    """An event lacks a number the metric needs."""


@dataclass(frozen=True)
class PropertyFilter:
    property: str
    operator: str
    value: Any = None

    def matches(self, properties: Mapping[str, Any]) -> bool:
        if self.operator == "exists":
            return (self.property in properties) == (self.value is not False)
        if self.property not in properties:
            return self.operator == "not_in"
        actual = _scalar(properties[self.property])
        if self.operator == "eq":
            return actual == _scalar(self.value)
        values = {_scalar(v) for v in self.value}
        return (actual in values) if self.operator == "in" else (actual not in values)


@dataclass(frozen=True)
class MetricDefinition:
    event_type: str
    aggregation: str
    property: str = ""
    filters: tuple[PropertyFilter, ...] = ()
    group_by: tuple[str, ...] = ()
    time_unit: str = ""

    def matches(self, event: Mapping[str, Any]) -> bool:
        if event.get("event_type") != self.event_type:
            return False
        properties = event.get("properties") or {}
        return all(f.matches(properties) for f in self.filters)

    def group_of(self, properties: Mapping[str, Any], key: str | None) -> str:
        if key is None:
            return NO_GROUP
        value = properties.get(key)
        return NO_GROUP if value is None else str(_scalar(value))


def _scalar(value: Any) -> Any:
    """Compare property values as JSON scalars: 1 and "1" differ, 1 and 1.0 do not."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    return str(value)


def number(value: Any, *, property_name: str) -> Decimal:
    """A property value as a Decimal; JSON numbers and numeric strings are accepted."""
    if isinstance(value, bool) or value is None:
        raise EventValueError(f"property {property_name!r} must be a number, got {value!r}")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise EventValueError(f"property {property_name!r} must be a number, got {value!r}") from None
    if not result.is_finite():
        raise EventValueError(f"property {property_name!r} must be a finite number, got {value!r}")
    return result


def parse_definition(
    *,
    event_type: str,
    aggregation: str,
    property: str = "",
    filters: Sequence[Mapping[str, Any]] = (),
    group_by: Sequence[str] = (),
    time_unit: str = "",
) -> MetricDefinition:
    """Check a definition and return it; raise MetricDefinitionError listing every problem."""
    problems: list[tuple[str, str]] = []
    if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type):
        problems.append(("event_type", "use 1-128 letters, digits and _ . : - (starting with a letter or digit)"))
    if aggregation not in AGGREGATIONS:
        problems.append(("aggregation", f"unknown aggregation {aggregation!r}; use one of {', '.join(AGGREGATIONS)}"))
    if aggregation == "count":
        if property:
            problems.append(("property", "a count takes no property; remove it or use sum"))
    elif aggregation in AGGREGATIONS:
        if not property:
            problems.append(("property", f"a {aggregation} needs the property it aggregates"))
        elif not PROPERTY_NAME.match(property):
            problems.append(("property", f"{property!r} is not a property name (letters, digits, _)"))
    if aggregation == "time_weighted_sum":
        if time_unit not in TIME_UNITS:
            problems.append(("time_unit", f"a time-weighted sum needs a time unit: {', '.join(TIME_UNITS)}"))
    elif time_unit:
        problems.append(("time_unit", "only a time-weighted sum takes a time unit"))

    parsed_filters = []
    if not isinstance(filters, (list, tuple)):
        problems.append(("filters", "filters must be a list"))
        filters = ()
    for index, raw in enumerate(filters):
        where = f"filters.{index}"
        if not isinstance(raw, Mapping):
            problems.append((where, "a filter is an object with property, operator and value"))
            continue
        name, operator, value = raw.get("property"), raw.get("operator", "eq"), raw.get("value")
        unknown = set(raw) - {"property", "operator", "value"}
        if unknown:
            problems.append((where, f"unknown key(s) {', '.join(sorted(unknown))}"))
        if not isinstance(name, str) or not PROPERTY_NAME.match(name):
            problems.append((f"{where}.property", f"{name!r} is not a property name (letters, digits, _)"))
        if operator not in FILTER_OPERATORS:
            problems.append((f"{where}.operator", f"unknown operator {operator!r}; use {', '.join(FILTER_OPERATORS)}"))
        elif operator in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                problems.append((f"{where}.value", f"{operator} needs a non-empty list of values"))
        elif operator == "eq":
            if value is None or isinstance(value, (list, dict)):
                problems.append((f"{where}.value", "eq needs a single value (string, number or boolean)"))
        elif operator == "exists" and value not in (None, True, False):
            problems.append((f"{where}.value", "exists takes true, false or no value"))
        parsed_filters.append(PropertyFilter(str(name), str(operator), value))

    if not isinstance(group_by, (list, tuple)):
        problems.append(("group_by", "group_by must be a list of property names"))
        group_by = ()
    for index, key in enumerate(group_by):
        if not isinstance(key, str) or not PROPERTY_NAME.match(key):
            problems.append((f"group_by.{index}", f"{key!r} is not a property name (letters, digits, _)"))
    if len(set(group_by)) != len(group_by):
        problems.append(("group_by", "a property is named twice"))
    if problems:
        raise MetricDefinitionError(problems)
    return MetricDefinition(
        event_type=event_type,
        aggregation=aggregation,
        property=property,
        filters=tuple(parsed_filters),
        group_by=tuple(group_by),
        time_unit=time_unit,
    )


@dataclass
class GroupQuantity:
    """The quantity of one group, with what percentage prices need: event count and event values."""

    quantity: Decimal = Decimal(0)
    event_count: int = 0
    values: list[Decimal] = field(default_factory=list)


def aggregate(
    definition: MetricDefinition,
    events: Iterable[Mapping[str, Any]],
    *,
    start: dt.datetime,
    end: dt.datetime,
    group_key: str | None = None,
    carry_in: Mapping[str, Decimal] | None = None,
) -> dict[str, GroupQuantity]:
    """The metric's quantity per group value over [start, end). Raises EventValueError for a missing number.

    `group_key` splits the quantity by one of the definition's group-by properties (None: one group "").
    `carry_in` gives, for time-weighted sums, each group's level reported before `start`.
    """
    if start >= end:
        raise ValueError("the period must start before it ends")
    if group_key is not None and group_key not in definition.group_by:
        raise ValueError(f"{group_key!r} is not one of the metric's group-by properties")
    matching = sorted(
        (e for e in events if definition.matches(e)),
        key=lambda e: e["timestamp"],
    )
    agg, prop = definition.aggregation, definition.property
    if agg == "time_weighted_sum":
        return _time_weighted(definition, matching, start, end, group_key, carry_in or {})

    groups: dict[str, GroupQuantity] = {}
    uniques: dict[str, set[Any]] = {}
    for event in matching:
        if not (start <= event["timestamp"] < end):
            continue
        properties = event.get("properties") or {}
        group = groups.setdefault(definition.group_of(properties, group_key), GroupQuantity())
        group.event_count += 1
        if agg == "count":
            group.quantity += 1
            continue
        if agg == "unique_count":
            if prop in properties and properties[prop] is not None:
                seen = uniques.setdefault(definition.group_of(properties, group_key), set())
                seen.add(_scalar(properties[prop]))
                group.quantity = Decimal(len(seen))
            continue
        value = number(properties.get(prop), property_name=prop)
        group.values.append(value)
        if agg == "sum":
            group.quantity += value
        elif agg == "max":
            group.quantity = value if group.event_count == 1 else max(group.quantity, value)
        elif agg == "latest":
            group.quantity = value  # events are in time order
    return groups


def _time_weighted(
    definition: MetricDefinition,
    events: list[Mapping[str, Any]],
    start: dt.datetime,
    end: dt.datetime,
    group_key: str | None,
    carry_in: Mapping[str, Decimal],
) -> dict[str, GroupQuantity]:
    unit = TIME_UNITS[definition.time_unit]
    levels: dict[str, Decimal] = dict(carry_in)
    since: dict[str, dt.datetime] = {group: start for group in carry_in}
    groups: dict[str, GroupQuantity] = {group: GroupQuantity() for group in carry_in}

    def accrue(group: str, until: dt.datetime) -> None:
        if group in levels:
            seconds = Decimal(str((until - since[group]).total_seconds()))
            groups.setdefault(group, GroupQuantity()).quantity += levels[group] * seconds / unit

    for event in events:
        moment = event["timestamp"]
        if moment >= end:
            break
        properties = event.get("properties") or {}
        group = definition.group_of(properties, group_key)
        level = number(properties.get(definition.property), property_name=definition.property)
        if moment < start:  # before the period: only sets the level carried in
            levels[group], since[group] = level, start
            groups.setdefault(group, GroupQuantity())
            continue
        accrue(group, moment)
        levels[group], since[group] = level, moment
        g = groups.setdefault(group, GroupQuantity())
        g.event_count += 1
    for group in list(levels):
        accrue(group, end)
    return groups
