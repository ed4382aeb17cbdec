import datetime as dt

import pytest

from catalog.services import metrics
from contracts.models import Customer, CustomerAlias
from usage import rollups

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def acme(db):
    customer = Customer.objects.create(external_id="acme", name="Acme", currency="USD")
    CustomerAlias.objects.create(customer=customer, alias="ws_acme_prod")
    return customer


@pytest.fixture
def token_metrics(db):
    """Four metrics over one event stream: tokens summed per model, calls counted, users, biggest request."""
    common = {"event_type": "llm.completion", "actor": None}
    created = {
        "tokens": metrics.metric_create(
            code="tokens", name="Tokens", aggregation="sum", property="tokens", group_by=["model"], **common
        ),
        "calls": metrics.metric_create(code="calls", name="Calls", aggregation="count", **common),
        "users": metrics.metric_create(
            code="users", name="Users", aggregation="unique_count", property="user", **common
        ),
        "biggest": metrics.metric_create(
            code="biggest", name="Biggest", aggregation="max", property="tokens", **common
        ),
        "last": metrics.metric_create(code="last", name="Last", aggregation="latest", property="tokens", **common),
    }
    for metric in created.values():  # as the first batch after a metric's creation would trigger
        rollups.rollups_build(metric=metric, as_of=NOW)
    return created


def event(txn: str, tokens=100, *, customer="acme", at=NOW - dt.timedelta(hours=1), model="small", user="u1", **extra):
    body = {
        "transaction_id": txn,
        "customer": customer,
        "event_type": "llm.completion",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "properties": {"tokens": tokens, "model": model, "user": user},
    }
    body.update(extra)
    return body
