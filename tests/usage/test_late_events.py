"""Late events: did any event of a period arrive after its invoice was finalized? (usage/selectors.py)

Asked for every finalized invoice late usage may still correct, at every period close: the delayed events
are in a small partial index, and the events of the last day before the finalization are looked at
among all of them. Both halves, and that the database really reads the small index."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.usage.conftest import event
from usage.selectors import late_events_exist
from usage.services import usage_events_ingest

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def ingest(txn: str, *, at: dt.datetime, received: dt.datetime) -> None:
    assert usage_events_ingest(events=[event(txn, at=at)], received_at=received).count("accepted") == 1


def late(customer, since: dt.datetime) -> bool:
    return late_events_exist(customer_id=customer.pk, start=START, end=END, since=since)


def test_an_event_of_the_period_received_after_the_finalization_is_late(acme):
    finalized = dt.datetime(2026, 11, 4, tzinfo=dt.UTC)
    on_time = dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)
    ingest("on-time", at=on_time, received=on_time + dt.timedelta(seconds=2))
    ingest("next-period", at=END + dt.timedelta(days=3), received=finalized + dt.timedelta(hours=1))
    ingest("delayed-before", at=on_time, received=finalized - dt.timedelta(hours=1))  # late, but billed
    assert not late(acme, finalized)
    ingest("late", at=on_time, received=finalized + dt.timedelta(hours=1))
    assert late(acme, finalized)


def test_an_invoice_finalized_as_its_period_ends_still_sees_an_event_a_second_late(acme):
    # Finalized early, one minute after the period's end: an event of its last minute, a second after that.
    finalized = END + dt.timedelta(minutes=1)
    ingest("last-minute", at=END - dt.timedelta(seconds=30), received=finalized + dt.timedelta(seconds=1))
    assert late(acme, finalized)
    assert not late(acme, finalized + dt.timedelta(seconds=2))


def test_the_question_reads_the_index_of_delayed_events(acme):
    with CaptureQueriesContext(connection) as queries:
        late(acme, dt.datetime(2026, 11, 4, tzinfo=dt.UTC))
    assert len(queries) == 1  # finalized long after the period: the recent half has nothing to look at
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make the planner show what it can use
        cursor.execute(f"EXPLAIN {queries[0]['sql']}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "usage_event_late" in plan
