"""Test clocks over the API and in the admin: who may do what, the answers, and refusals that change nothing.

The contract fixture (tests/billing/conftest.py) bills acme 10 seats at 40 a month from 2026-01-01.
"""

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from billing.models import Invoice
from contracts.models import Customer, TestClock

pytestmark = pytest.mark.django_db

API = "/api/v1/test-clocks"


def state():
    return (
        list(TestClock.objects.values_list("name", "frozen_time", "status")),
        list(Customer.objects.values_list("external_id", "test_clock")),
        Invoice.objects.count(),
    )


def make_clock(client, at="2026-01-01T00:00:00Z"):
    response = client.post(API, {"name": "sandbox", "frozen_time": at}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_attach_advance_read_and_list(write_client, contract):
    made = make_clock(write_client)
    assert (made["name"], made["frozen_time"], made["status"], made["error"], made["customers"]) == (
        "sandbox", "2026-01-01T00:00:00Z", "ready", "", [],
    )  # fmt: skip
    assert made["created_by"] == "svc-product"
    attached = write_client.post(f"{API}/{made['id']}/customers", {"customer": "acme"}, format="json")
    assert (attached.status_code, attached.json()["customers"]) == (200, ["acme"])
    moved = write_client.post(f"{API}/{made['id']}/advance", {"frozen_time": "2026-02-04T00:00:00Z"}, format="json")
    assert moved.status_code == 200, moved.json()
    assert (moved.json()["frozen_time"], moved.json()["status"]) == ("2026-02-04T00:00:00Z", "ready")
    # January ended on the clock and its grace is over: finalized. Its seats were billed on the opening invoice;
    # January's bills February's in advance: 10 x 40 = 400.00 (no usage). Listed newest first.
    invoices = write_client.get("/api/v1/invoices?customer=acme").json()["results"]
    assert [(i["kind"], i["period_start"], i["status"], i["total"]) for i in invoices] == [
        ("period", "2026-01-01", "finalized", "400.00"),
        ("opening", "2026-01-01", "finalized", "400.00"),
    ]
    assert write_client.get(f"{API}/{made['id']}").json()["frozen_time"] == "2026-02-04T00:00:00Z"
    listed = write_client.get(API).json()
    assert (listed["count"], listed["results"][0]["id"]) == (1, made["id"])


def test_a_customer_created_on_a_clock_says_so(write_client):
    made = make_clock(write_client)
    response = write_client.post(
        "/api/v1/customers",
        {"external_id": "sim-1", "name": "Sim", "currency": "USD", "test_clock": made["id"]},
        format="json",
    )
    assert (response.status_code, response.json()["test_clock"]) == (201, made["id"])
    unknown = write_client.post(
        "/api/v1/customers", {"external_id": "sim-2", "name": "Sim", "currency": "USD", "test_clock": 999999},
        format="json",
    )  # fmt: skip
    assert (unknown.status_code, list(unknown.json()["error"]["fields"])) == (400, ["test_clock"])
    assert not Customer.objects.filter(external_id="sim-2").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"frozen_time": "2026-01-01T00:00:00Z"}, "name"),
        ({"name": "x"}, "frozen_time"),
        ({"name": "x", "frozen_time": "soon"}, "frozen_time"),
        ({"name": "x", "frozen_time": "2026-01-01T00:00:00Z", "speed": 2}, "speed"),
    ],
)
def test_a_bad_clock_is_refused_naming_the_field(write_client, body, field):
    response = write_client.post(API, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not TestClock.objects.exists()


def test_advancing_backwards_or_badly_is_refused_and_changes_nothing(write_client, contract):
    made = make_clock(write_client, "2026-03-01T00:00:00Z")
    before = state()
    for body in ({"frozen_time": "2026-02-01T00:00:00Z"}, {"frozen_time": "2026-03-01T00:00:00Z"}, {}):
        response = write_client.post(f"{API}/{made['id']}/advance", body, format="json")
        assert response.status_code == 400
        assert "frozen_time" in response.json()["error"]["fields"]
    assert state() == before
    assert (
        write_client.post(f"{API}/999999/advance", {"frozen_time": "2027-01-01T00:00:00Z"}, format="json").status_code
        == 404
    )


def test_deleting_over_the_api_answers_204_or_409_with_the_reason(write_client, contract):
    empty = make_clock(write_client)
    assert write_client.delete(f"{API}/{empty['id']}").status_code == 204
    billed = make_clock(write_client)
    write_client.post(f"{API}/{billed['id']}/customers", {"customer": "acme"}, format="json")
    write_client.post(f"{API}/{billed['id']}/advance", {"frozen_time": "2026-02-05T00:00:00Z"}, format="json")
    before = state()
    refused = write_client.delete(f"{API}/{billed['id']}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "clock_has_frozen_records")
    assert state() == before


def test_read_keys_read_and_only_write_keys_change_anything(read_client, ingest_client, anon_client, write_client):
    made = make_clock(write_client)
    before = state()
    assert read_client.get(API).status_code == 200
    assert read_client.get(f"{API}/{made['id']}").status_code == 200
    for client in (read_client, ingest_client, anon_client):
        assert client.post(API, {"name": "x", "frozen_time": "2026-01-01T00:00:00Z"}, format="json").status_code in (
            401, 403,
        )  # fmt: skip
        advance = client.post(f"{API}/{made['id']}/advance", {"frozen_time": "2027-01-01T00:00:00Z"}, format="json")
        assert advance.status_code in (401, 403)
        assert client.delete(f"{API}/{made['id']}").status_code in (401, 403)
    assert anon_client.get(API).status_code in (401, 403)
    assert ingest_client.get(API).status_code == 403
    assert state() == before


# --- admin ------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(db):
    user = get_user_model().objects.create_superuser(username="boss", password="pw-boss-123")
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_the_admin_creates_advances_and_refuses_to_delete_a_billed_clock(admin_client_, contract):
    response = admin_client_.post(
        reverse("admin:contracts_testclock_add"),
        {"name": "demo", "frozen_time_0": "2026-01-01", "frozen_time_1": "00:00"},
    )
    if response.status_code == 200:  # a single datetime input
        response = admin_client_.post(
            reverse("admin:contracts_testclock_add"), {"name": "demo", "frozen_time": "2026-01-01 00:00"}
        )
    assert response.status_code == 302, text(response)
    made = TestClock.objects.get()
    Customer.objects.filter(pk=contract.customer_id).update(test_clock=made)
    listed = admin_client_.get(reverse("admin:contracts_testclock_changelist"))
    assert listed.status_code == 200 and "demo" in text(listed)
    simulated = admin_client_.get(reverse("admin:contracts_customer_changelist") + f"?test_clock__id__exact={made.pk}")
    assert simulated.status_code == 200 and "acme" in text(simulated)
    page = admin_client_.get(reverse("admin:contracts_testclock_change", args=[made.pk]))
    assert "Advance…" in text(page) and "acme" in text(page)
    form = admin_client_.get(reverse("admin:contracts_testclock_advance", args=[made.pk]))
    assert 'value="Advance the clock"' in form.content.decode()
    bad = admin_client_.post(
        reverse("admin:contracts_testclock_advance", args=[made.pk]), {"frozen_time": "2025-01-01"}
    )
    assert bad.status_code == 200 and "only moves forward" in text(bad)
    moved = admin_client_.post(
        reverse("admin:contracts_testclock_advance", args=[made.pk]), {"frozen_time": "2026-02-05 00:00"}
    )
    assert moved.status_code == 302
    assert [str(m) for m in get_messages(moved.wsgi_request)][-1] == "Advanced demo to 2026-02-05 00:00 UTC."
    # The opening invoice (January's seats in advance) and January's.
    assert list(Invoice.objects.order_by("pk").values_list("kind", "status")) == [
        ("opening", "finalized"),
        ("period", "finalized"),
    ]
    refused = admin_client_.post(reverse("admin:contracts_testclock_delete_clock", args=[made.pk]), {})
    assert refused.status_code == 302
    assert [str(m) for m in get_messages(refused.wsgi_request)][-1].startswith("Nothing deleted: the clock's customers")
    assert TestClock.objects.filter(pk=made.pk).exists()
