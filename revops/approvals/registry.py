"""How an app plugs an action kind into the approval workflow.

The app that owns the change registers `apply` (carries the payload out, returns a one-line summary)
and `snapshot` (the target's state that the request was made against: when it differs at approval,
the request is stale). An app that can price the change on usage registers `impact` for the kind
(usage measures usage, so it prices changes owned by lower apps: the dependency is turned around).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from revops.money import round_amount

Apply = Callable[..., str]  # (payload, *, actor, approved_by, as_of, reason) -> summary
Snapshot = Callable[[dict[str, Any]], Any]
Impact = Callable[[dict[str, Any], dt.date], dict[str, Any]]


@dataclass
class Kind:
    apply: Apply
    snapshot: Snapshot
    impact: Impact | None = None


_kinds: dict[str, Kind] = {}
_impacts: dict[str, Impact] = {}


def register(kind: str, *, apply: Apply, snapshot: Snapshot) -> None:
    _kinds[kind] = Kind(apply=apply, snapshot=snapshot, impact=_impacts.get(kind))


def register_impact(kind: str, impact: Impact) -> None:
    _impacts[kind] = impact
    if kind in _kinds:
        _kinds[kind].impact = impact


def kind(name: str) -> Kind:
    try:
        return _kinds[name]
    except KeyError:
        raise LookupError(f"no approval kind {name!r} is registered") from None


def money_text(amount: Decimal, currency: str) -> str:
    """An amount as a request shows it: a string with its currency's minor-unit digits ("120.00")."""
    return format(round_amount(amount, currency), "f")
