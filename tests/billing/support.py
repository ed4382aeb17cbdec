"""Billing test data: dates, and sending usage for the contract fixture's customer (tests/billing/conftest.py)."""

import datetime as dt

from revops.periods import Period
from usage.services import usage_events_ingest

T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
CLOSE = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def use(
    n: int,
    credits: int,
    *,
    at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
    prefix="e",
    received=dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
):
    """`n` events of `credits` each for acme (on 20 November 2026 by default), received on the 25th (or
    `received`: after the period's invoice was finalized, they are late)."""
    result = usage_events_ingest(
        events=[
            {
                "transaction_id": f"{prefix}{i}",
                "customer": "acme",
                "event_type": "credits.used",
                "timestamp": at.isoformat(),
                "properties": {"credits": credits},
            }
            for i in range(n)
        ],
        received_at=received,
    )
    assert result.count("accepted") == n
