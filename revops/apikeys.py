"""API key services: create (the secret is returned once), revoke, authenticate."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from revops.errors import Conflict, ValidationError
from revops.history import stamp
from revops.models import ApiKey, ApiScope

KEY_PREFIX = "rk_"


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    secret: str  # the full key, shown once and never stored


def _digest(full_key: str) -> str:
    return hashlib.sha256(full_key.encode()).hexdigest()


def _clean_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise ValidationError("an API key needs at least one scope", field="scopes")
    unknown = sorted(set(scopes) - set(ApiScope.values))
    if unknown:
        raise ValidationError(
            f"unknown scope(s) {', '.join(unknown)}; use {', '.join(ApiScope.values)}", field="scopes"
        )
    return sorted(set(scopes))


@transaction.atomic
def api_key_create(
    *, name: str, user: AbstractBaseUser, scopes: list[str], actor: AbstractBaseUser | None
) -> CreatedApiKey:
    if not name.strip():
        raise ValidationError("an API key needs a name", field="name")
    prefix = secrets.token_hex(6)
    full_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        name=name.strip(),
        prefix=prefix,
        digest=_digest(full_key),
        user=user,
        scopes=_clean_scopes(scopes),
        created_by=actor,
    )
    stamp(api_key, actor=actor, reason="API key created")
    api_key.save()
    return CreatedApiKey(api_key=api_key, secret=full_key)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: AbstractBaseUser | None, as_of: dt.datetime) -> ApiKey:
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        raise Conflict("this API key is already revoked", code="already_revoked")
    api_key.revoked_at = as_of
    stamp(api_key, actor=actor, reason="API key revoked")
    api_key.save()
    return api_key


def api_key_authenticate(*, presented: str, as_of: dt.datetime) -> ApiKey | None:
    """Return the active key matching `presented`, or None. Records last use at most once a minute."""
    if not presented.startswith(KEY_PREFIX):
        return None
    prefix, sep, _ = presented[len(KEY_PREFIX) :].partition("_")
    if not sep:
        return None
    api_key = _active_key(prefix)
    if api_key is None or not hmac.compare_digest(api_key.digest, _digest(presented)):
        return None
    if not api_key.user.is_active:
        return None
    touch_after = dt.timedelta(seconds=settings.REVOPS_API_KEY_TOUCH_SECONDS)
    if api_key.last_used_at is None or as_of - api_key.last_used_at >= touch_after:
        # A plain UPDATE: last use is bookkeeping, not an audited change (excluded from history).
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=as_of)
        api_key.last_used_at = as_of
    return api_key


@functools.cache
def _active_key_query() -> tuple[str, list[str], list[str]]:
    """The SQL that loads an unrevoked key and its user, with the fields it fills, built once per process."""
    user_model = get_user_model()
    key_fields = [f for f in ApiKey._meta.concrete_fields]
    user_fields = [f for f in user_model._meta.concrete_fields]
    columns = [f"k.{f.column}" for f in key_fields] + [f"u.{f.column}" for f in user_fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM {ApiKey._meta.db_table} k "
        f"JOIN {user_model._meta.db_table} u ON u.{user_model._meta.pk.column} = k.user_id "
        "WHERE k.prefix = %s AND k.revoked_at IS NULL"
    )
    return sql, [f.attname for f in key_fields], [f.attname for f in user_fields]


def _active_key(prefix: str) -> ApiKey | None:
    """The unrevoked key with `prefix`, its user loaded. The ORM would compile this same SELECT on every
    request, which on the ingestion hot path costs more than running it; here it is composed once."""
    sql, key_names, user_names = _active_key_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    api_key = ApiKey.from_db(connection.alias, key_names, row[: len(key_names)])
    api_key.user = get_user_model().from_db(connection.alias, user_names, row[len(key_names) :])
    return api_key
