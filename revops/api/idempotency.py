"""Idempotency-Key for writes: a retried request gets the first response.

The first request with a key claims it (a unique row per caller and key), runs,
and stores its status and body. A retry with the same key and the same body gets
that stored response, marked `Idempotent-Replayed: true`; the same key with a
different body is refused (422), and a retry while the first is still running is
told to wait (409). A 5xx answer releases the key so the retry runs for real.
A claim left by a request that died mid-way expires after
REVOPS_IDEMPOTENCY_LOCK_SECONDS, so a client's retry is not locked out forever.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from revops.errors import Conflict, DomainError, ValidationError
from revops.models import ApiKey, IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255


class KeyReused(DomainError):
    status = 422
    default_code = "idempotency_key_reused"


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: object


def owner_of(request) -> str | None:
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return None


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


def claim(
    *, owner: str, key: str, method: str, path: str, body: bytes, as_of: dt.datetime
) -> IdempotencyRecord | Replay:
    """Claim `key` for this request, or return the stored response of the first one."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters", field="Idempotency-Key")
    print_ = fingerprint(method, path, body)
    ttl = dt.timedelta(hours=settings.REVOPS_IDEMPOTENCY_TTL_HOURS)
    lock = dt.timedelta(seconds=settings.REVOPS_IDEMPOTENCY_LOCK_SECONDS)
    with transaction.atomic():
        existing = IdempotencyRecord.objects.select_for_update().filter(owner=owner, key=key).first()
        if existing is not None:
            expired = as_of - existing.created_at >= ttl
            abandoned = existing.completed_at is None and as_of - existing.created_at >= lock
            if not (expired or abandoned):
                if existing.fingerprint != print_:
                    raise KeyReused(
                        "this Idempotency-Key was already used with a different request body or path",
                        field="Idempotency-Key",
                    )
                if existing.completed_at is None:
                    raise Conflict(
                        "a request with this Idempotency-Key is still being processed; retry shortly",
                        code="idempotency_key_in_use",
                    )
                return Replay(status_code=existing.status_code, body=existing.response_body)
            existing.delete()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    owner=owner, key=key, method=method, path=path, fingerprint=print_, created_at=as_of
                )
        except IntegrityError:
            # Another request claimed the key between our read and insert.
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly",
                code="idempotency_key_in_use",
            ) from None


def complete(record: IdempotencyRecord, *, status_code: int, body: object, as_of: dt.datetime) -> None:
    if status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=status_code, response_body=body, completed_at=as_of
    )
