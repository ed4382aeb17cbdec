"""The usage admin: staff find events by transaction id or customer, and see rejections and daily counts."""

import pytest
from django.contrib.auth import get_user_model

from contracts.models import Customer
from revops import clock
from tests.usage.conftest import NOW, event
from usage import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser(username="ops", password="pw-ops-12345")
    client.force_login(user)
    return client


@pytest.fixture
def events(acme):
    globex = Customer.objects.create(external_id="globex", name="Globex Corporation", currency="USD")
    batch = [event("acme-1"), event("acme-2"), event("globex-1", customer="globex"), {"transaction_id": "bad"}]
    with clock.frozen_at(NOW):
        services.usage_events_ingest(events=batch, received_at=NOW)
    return acme, globex


def listed(admin_client, query=""):
    response = admin_client.get("/admin/usage/usageevent/", {"q": query} if query else {})
    assert response.status_code == 200
    return sorted(e.transaction_id for e in response.context["cl"].result_list)


def test_search_by_exact_transaction_id(admin_client, events):
    assert listed(admin_client, "acme-2") == ["acme-2"]
    assert listed(admin_client, "acme-") == []  # ids match exactly, never by pattern


def test_search_by_customer_external_id_alias_or_name(admin_client, events):
    assert listed(admin_client) == ["acme-1", "acme-2", "globex-1"]
    assert listed(admin_client, "GLOBEX") == ["globex-1"]
    assert listed(admin_client, "ws_acme_prod") == ["acme-1", "acme-2"]
    assert listed(admin_client, "corporation") == ["globex-1"]
    assert listed(admin_client, "nobody") == []


def test_rejected_events_show_with_their_reason(admin_client, events):
    response = admin_client.get("/admin/usage/rejectedevent/")
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [(r.transaction_id, r.code) for r in rows] == [("bad", "invalid")]
    assert "customer is required" in rows[0].reason


def test_daily_counts_page(admin_client, events):
    with clock.frozen_at(NOW):
        response = admin_client.get("/admin/usage/usageevent/daily/")
    assert response.status_code == 200
    assert [(r["event_type"], r["events"]) for r in response.context["rows"]] == [("llm.completion", 3)]
    assert [(r["code"], r["events"]) for r in response.context["rejected"]] == [("invalid", 1)]
