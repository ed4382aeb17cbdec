import pytest

from contracts.models import Customer

pytestmark = pytest.mark.django_db

ACME = {
    "external_id": "acme",
    "name": "Acme Corp",
    "currency": "eur",
    "timezone": "Europe/Berlin",
    "billing_email": "ap@acme.example",
    "metadata": {"crm_id": "0015g00000XyZ"},
    "reason": "signed on 2026-11-01",
}


def test_create_read_update_with_history(write_client, service_user):
    created = write_client.post("/api/v1/customers", ACME, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["currency"] == "EUR"
    assert write_client.get("/api/v1/customers/acme").json()["name"] == "Acme Corp"

    updated = write_client.patch("/api/v1/customers/acme", {"name": "Acme GmbH", "reason": "renamed"}, format="json")
    assert updated.status_code == 200
    customer = Customer.objects.get(external_id="acme")
    history = list(customer.history.order_by("history_id"))
    assert [h.history_change_reason for h in history] == ["signed on 2026-11-01", "renamed"]
    assert history[-1].history_user == service_user
    assert history[0].name == "Acme Corp"


def test_update_needs_a_reason_and_cannot_change_currency(write_client):
    write_client.post("/api/v1/customers", ACME, format="json")
    no_reason = write_client.patch("/api/v1/customers/acme", {"name": "X"}, format="json")
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["error"]["fields"]
    currency = write_client.patch("/api/v1/customers/acme", {"currency": "USD", "reason": "x"}, format="json")
    assert currency.status_code == 400
    assert currency.json()["error"]["fields"] == {"currency": ["this field is not accepted here"]}
    assert Customer.objects.get(external_id="acme").currency == "EUR"


def test_unknown_customer_is_404(read_client):
    response = read_client.get("/api/v1/customers/nobody")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "customer_not_found"


@pytest.mark.parametrize("client_name", ["anon_client", "read_client", "ingest_client"])
def test_creating_is_refused_without_write_permission(request, client_name):
    response = request.getfixturevalue(client_name).post("/api/v1/customers", ACME, format="json")
    assert response.status_code in (401, 403)
    assert not Customer.objects.exists()


def test_non_staff_session_is_refused(db):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(get_user_model().objects.create_user(username="customer-user"))
    assert client.get("/api/v1/customers").status_code == 403


def test_staff_session_can_read(staff_client):
    Customer.objects.create(external_id="x1", name="X", currency="USD")
    assert staff_client.get("/api/v1/customers").json()["count"] == 1


def test_aliases_share_the_external_id_namespace(write_client):
    write_client.post("/api/v1/customers", ACME, format="json")
    write_client.post("/api/v1/customers", {**ACME, "external_id": "globex"}, format="json")
    added = write_client.post("/api/v1/customers/acme/aliases", {"alias": "ws_123"}, format="json")
    assert added.status_code == 201
    assert write_client.get("/api/v1/customers/acme/aliases").json()[0]["alias"] == "ws_123"
    for alias in ("globex", "ws_123"):  # another customer's id; an alias taken already
        refused = write_client.post("/api/v1/customers/acme/aliases", {"alias": alias}, format="json")
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "duplicate"
    taken = write_client.post("/api/v1/customers", {**ACME, "external_id": "ws_123"}, format="json")
    assert taken.status_code == 400
    assert write_client.delete("/api/v1/customers/acme/aliases/ws_123").status_code == 204
    assert write_client.get("/api/v1/customers/acme/aliases").json() == []
