"""The project clock: the one place the edges ask for "now".

Domain code never reads the clock; it takes `as_of` or a period. Views, tasks
and commands call `clock.now()`. Tests (and later, test clocks attached to
customers) can pin time with `clock.frozen_at(...)`, which every edge then sees.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
from collections.abc import Iterator

_frozen: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("revops_clock", default=None)


def now() -> dt.datetime:
    """The current time, aware and in UTC."""
    pinned = _frozen.get()
    return pinned if pinned is not None else dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today's date in UTC."""
    return now().date()


@contextlib.contextmanager
def frozen_at(moment: dt.datetime) -> Iterator[dt.datetime]:
    """Pin `now()` to an aware moment inside the block."""
    if moment.tzinfo is None:
        raise ValueError("frozen_at needs an aware datetime")
    token = _frozen.set(moment.astimezone(dt.UTC))
    try:
        yield moment
    finally:
        _frozen.reset(token)
