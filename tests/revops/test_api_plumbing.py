"""The error shape, idempotency keys, pagination, health and docs: the API plumbing every app uses."""

import re

import pytest

from contracts.models import Customer
from revops.models import IdempotencyRecord

pytestmark = pytest.mark.django_db

NEW_CUSTOMER = {"external_id": "globex", "name": "Globex", "currency": "usd"}


def test_healthz_reports_the_database():
    from rest_framework.test import APIClient

    response = APIClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_unknown_api_path_answers_in_the_error_shape(write_client):
    response = write_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_anonymous_gets_401_in_the_error_shape(anon_client):
    response = anon_client.post("/api/v1/customers", NEW_CUSTOMER, format="json")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not Customer.objects.exists()


def test_validation_errors_name_each_field(write_client):
    response = write_client.post(
        "/api/v1/customers", {"external_id": "bad id!", "name": "", "currency": "XYZ"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "name" in error["fields"]
    assert not Customer.objects.exists()


def test_domain_errors_name_each_field(write_client):
    response = write_client.post(
        "/api/v1/customers",
        {"external_id": "bad id!", "name": "X", "currency": "XYZ", "timezone": "Mars/Olympus"},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"external_id", "currency", "timezone"}
    assert not Customer.objects.exists()


def test_malformed_json_is_a_400_in_the_error_shape(write_client):
    response = write_client.generic("POST", "/api/v1/customers", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_retried_write_with_the_same_key_gets_the_first_response(write_client):
    first = write_client.post("/api/v1/customers", NEW_CUSTOMER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = write_client.post("/api/v1/customers", NEW_CUSTOMER, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Customer.objects.filter(external_id="globex").count() == 1


def test_without_a_key_a_repeated_create_is_refused_as_duplicate(write_client):
    assert write_client.post("/api/v1/customers", NEW_CUSTOMER, format="json").status_code == 201
    again = write_client.post("/api/v1/customers", NEW_CUSTOMER, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "duplicate"


def test_same_key_with_a_different_body_is_an_error(write_client):
    write_client.post("/api/v1/customers", NEW_CUSTOMER, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = write_client.post(
        "/api/v1/customers",
        {**NEW_CUSTOMER, "external_id": "initech"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert not Customer.objects.filter(external_id="initech").exists()


def test_failed_validation_is_replayed_too(write_client):
    bad = {**NEW_CUSTOMER, "currency": "XYZ"}
    first = write_client.post("/api/v1/customers", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    retry = write_client.post("/api/v1/customers", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert first.status_code == retry.status_code == 400
    assert retry.json() == first.json()


def test_keys_are_scoped_to_the_caller(make_api_key, key_client):
    one = key_client(make_api_key("write", name="one").secret)
    two = key_client(make_api_key("write", name="two").secret)
    assert one.post("/api/v1/customers", NEW_CUSTOMER, format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    other = {**NEW_CUSTOMER, "external_id": "hooli"}
    assert two.post("/api/v1/customers", other, format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert IdempotencyRecord.objects.filter(key="shared").count() == 2


def test_an_abandoned_claim_can_be_taken_over_after_the_lock_expires(write_client, settings):
    import datetime as dt

    from revops import clock

    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with clock.frozen_at(t0):
        write_client.post("/api/v1/customers", NEW_CUSTOMER, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    # Make it look like the first request died before it stored its response.
    IdempotencyRecord.objects.filter(key="k-4").update(completed_at=None, status_code=None)
    with clock.frozen_at(t0 + dt.timedelta(seconds=5)):
        busy = write_client.post("/api/v1/customers", NEW_CUSTOMER, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "idempotency_key_in_use"
    later = t0 + dt.timedelta(seconds=settings.REVOPS_IDEMPOTENCY_LOCK_SECONDS + 1)
    with clock.frozen_at(later):
        retry = write_client.post("/api/v1/customers", NEW_CUSTOMER, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    # The first attempt did create the customer, so the real retry reports the duplicate.
    assert retry.status_code == 400


def test_list_endpoints_paginate(read_client):
    for i in range(7):
        Customer.objects.create(external_id=f"c-{i}", name=f"Customer {i}", currency="USD")
    page1 = read_client.get("/api/v1/customers?page_size=3").json()
    assert page1["count"] == 7 and len(page1["results"]) == 3 and page1["next"]
    page3 = read_client.get("/api/v1/customers?page_size=3&page=3").json()
    assert [c["external_id"] for c in page3["results"]] == ["c-6"]


def test_schema_and_docs_are_served(staff_client):
    schema = staff_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/customers" in schema.content
    docs = staff_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    # Assets are vendored, served from our static files: every script and stylesheet the page loads is ours.
    # (Not a search for "cdn" in the page: its random CSRF token can contain those letters.)
    sources = re.findall(rb'(?:src|href)="([^"]+)"', docs.content)
    assert sources and all(s.startswith(b"/static/") or not s.startswith((b"http", b"//")) for s in sources)
