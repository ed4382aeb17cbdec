import datetime as dt

import pytest
from django.core.management import call_command

from revops import apikeys, clock
from revops.errors import Conflict, ValidationError
from revops.models import ApiKey

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_key_is_stored_hashed_and_shown_once(make_api_key):
    created = make_api_key("read")
    stored = ApiKey.objects.get(pk=created.api_key.pk)
    assert created.secret.startswith(f"rk_{stored.prefix}_")
    assert created.secret not in (stored.digest, stored.prefix)
    assert len(stored.digest) == 64
    assert apikeys.api_key_authenticate(presented=created.secret, as_of=T0) == stored


def test_wrong_secret_and_garbage_do_not_authenticate(make_api_key):
    created = make_api_key("read")
    tampered = created.secret[:-2] + ("AA" if not created.secret.endswith("AA") else "BB")
    assert apikeys.api_key_authenticate(presented=tampered, as_of=T0) is None
    assert apikeys.api_key_authenticate(presented="rk_nounderscore", as_of=T0) is None
    assert apikeys.api_key_authenticate(presented="sk_live_x", as_of=T0) is None


def test_revoked_key_is_refused_and_cannot_be_revoked_twice(make_api_key, key_client):
    created = make_api_key("write")
    apikeys.api_key_revoke(api_key=created.api_key, actor=None, as_of=T0)
    assert apikeys.api_key_authenticate(presented=created.secret, as_of=T0) is None
    with pytest.raises(Conflict):
        apikeys.api_key_revoke(api_key=created.api_key, actor=None, as_of=T0)
    response = key_client(created.secret).get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_last_used_is_recorded_at_most_once_a_minute(make_api_key):
    created = make_api_key("read")
    apikeys.api_key_authenticate(presented=created.secret, as_of=T0)
    apikeys.api_key_authenticate(presented=created.secret, as_of=T0 + dt.timedelta(seconds=30))
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == T0
    later = T0 + dt.timedelta(seconds=61)
    apikeys.api_key_authenticate(presented=created.secret, as_of=later)
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == later


def test_last_used_is_recorded_through_the_api(make_api_key, key_client):
    created = make_api_key("read")
    with clock.frozen_at(T0):
        assert key_client(created.secret).get("/api/v1/whoami").status_code == 200
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == T0


@pytest.mark.parametrize("scopes", [[], ["admin"], ["read", "bogus"]])
def test_bad_scopes_are_refused_and_nothing_is_created(service_user, scopes):
    with pytest.raises(ValidationError) as excinfo:
        apikeys.api_key_create(name="x", user=service_user, scopes=scopes, actor=None)
    assert "scopes" in excinfo.value.fields
    assert ApiKey.objects.count() == 0


def test_history_records_creation_and_revocation(make_api_key, staff_user):
    created = make_api_key("read")
    apikeys.api_key_revoke(api_key=created.api_key, actor=staff_user, as_of=T0)
    reasons = list(created.api_key.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert reasons == ["API key created", "API key revoked"]
    assert created.api_key.history.latest().history_user == staff_user


def test_management_command_creates_lists_and_revokes(capsys):
    call_command("apikey", "create", "--name", "product", "--scope", "ingest")
    out = capsys.readouterr().out
    secret = out.strip().splitlines()[-1]
    key = ApiKey.objects.get(name="product")
    assert key.user.username == "svc-product" and key.scopes == ["ingest"]
    assert apikeys.api_key_authenticate(presented=secret, as_of=T0) == key
    call_command("apikey", "list")
    assert key.prefix in capsys.readouterr().out
    call_command("apikey", "revoke", key.prefix)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


@pytest.mark.parametrize(
    ("scope", "method", "path", "allowed"),
    [
        ("read", "get", "/api/v1/customers", True),
        ("read", "post", "/api/v1/customers", False),
        ("write", "get", "/api/v1/customers", True),
        ("write", "post", "/api/v1/customers", True),
        ("ingest", "get", "/api/v1/customers", False),
        ("ingest", "post", "/api/v1/customers", False),
        ("ingest", "get", "/api/v1/whoami", True),
    ],
)
def test_scopes_limit_what_a_key_may_do(make_api_key, key_client, scope, method, path, allowed):
    client = key_client(make_api_key(scope).secret)
    body = {"external_id": "scoped-co", "name": "Scoped Co", "currency": "USD"}
    response = getattr(client, method)(path, body, format="json") if method == "post" else client.get(path)
    if allowed:
        assert response.status_code in (200, 201)
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
        from contracts.models import Customer

        assert not Customer.objects.filter(external_id="scoped-co").exists()
