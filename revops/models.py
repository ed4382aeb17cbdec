"""Shared-kernel models: API keys and stored Idempotency-Key responses."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.postgres.fields import ArrayField
from django.db import models
from guardian.models import GroupObjectPermission, UserObjectPermission
from simple_history import register
from simple_history.models import HistoricalRecords


class ApiScope(models.TextChoices):
    INGEST = "ingest", "Send usage events only"
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiKey(models.Model):
    """A secret for a system (the product, a CRM, an accounting tool) to call the API.

    The full key is `rk_<prefix>_<secret>`; it is shown once, when created. Only a
    SHA-256 digest of it is stored: keys are long random strings, so a fast hash is
    safe here and keeps authentication cheap on the ingestion hot path. Requests act
    as `user`, so history and permissions name a real account.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys")
    scopes = ArrayField(models.CharField(max_length=16, choices=ApiScope.choices), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(condition=~models.Q(scopes=[]), name="apikey_has_a_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (rk_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first response to a write sent with an Idempotency-Key, replayed to retries.

    Keys are scoped to the caller (an API key or a staff user), so two systems can
    use the same key strings without seeing each other's responses.
    """

    owner = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique")]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.owner}:{self.key}"


from revops.approvals.models import (  # noqa: E402,F401  (the approval models belong to this app)
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalRequest,
)


class AuditLog(models.Model):  # noqa: DJ008 (never instantiated)
    """No table: holds the permission to read the audit log, which reads every historical table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_auditlog", "Can read the audit log")]


# Who holds which permission is audited like prices: group membership, direct permissions, a group's
# permissions and guardian's per-object grants all keep a history (login time is bookkeeping, left out).
register(User, app="revops", m2m_fields=["groups", "user_permissions"], excluded_fields=["password", "last_login"])
register(Group, app="revops", m2m_fields=["permissions"])
register(UserObjectPermission, app="revops")
register(GroupObjectPermission, app="revops")
