"""Domain errors shared by every app. The API turns them into the one JSON error shape.

Services raise these; they never return HTTP responses. Each carries a machine-
readable `code`, a human `message`, and optionally the offending `field`.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class. `status` is the HTTP status the API answers with."""

    status = 400
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = dict(fields or {})
        if field:
            self.fields.setdefault(field, []).append(message)


class ValidationError(DomainError):
    """Bad input: nothing was changed."""

    status = 400
    default_code = "invalid"


class PermissionDenied(DomainError):
    status = 403
    default_code = "permission_denied"


class NotFound(DomainError):
    status = 404
    default_code = "not_found"


class Conflict(DomainError):
    """A state conflict: the transition or write is not allowed in the object's current state."""

    status = 409
    default_code = "conflict"
