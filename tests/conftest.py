"""Shared fixtures: API clients for each kind of caller, users, API keys."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from revops import apikeys


@pytest.fixture(autouse=True)
def _webhooks_may_reach_this_machine(settings):
    """Test receivers listen on 127.0.0.1: the SSRF guard is off here, and its own tests turn it on."""
    settings.REVOPS_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_superuser(username="finance", password="pw-finance-123")


@pytest.fixture
def service_user(db):
    return get_user_model().objects.create_user(username="svc-product")


@pytest.fixture
def make_api_key(service_user):
    def make(*scopes: str, name: str = "test key"):
        return apikeys.api_key_create(name=name, user=service_user, scopes=list(scopes), actor=None)

    return make


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def staff_client(staff_user):
    client = APIClient(headers={"X-Change-Reason": "test change"})  # audited writes must say why
    client.force_login(staff_user)
    return client


def client_with_key(secret: str) -> APIClient:
    client = APIClient(headers={"X-Change-Reason": "test change"})  # audited writes must say why
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def key_client():
    """A factory: an API client that sends the given API key."""
    return client_with_key


@pytest.fixture
def write_client(make_api_key):
    return client_with_key(make_api_key("write").secret)


@pytest.fixture
def read_client(make_api_key):
    return client_with_key(make_api_key("read").secret)


@pytest.fixture
def ingest_client(make_api_key):
    return client_with_key(make_api_key("ingest").secret)
