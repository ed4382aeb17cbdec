"""One JSON error shape for every API failure.

    {"error": {"code": "invalid", "message": "...", "fields": {"currency": ["..."]}}}

`code` is machine-readable and stable, `message` is for people, `fields` maps each
offending field (dotted for nested input, e.g. "tiers.1.up_to") to its messages.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from revops.errors import DomainError


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into {"a.b.0.c": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" and not prefix else f"{prefix}.{key}" if prefix else key
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handler answers (JSON under /api/)

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        only = fields.get("non_field_errors")
        message = only[0] if only and len(fields) == 1 else "The request has invalid fields; see `fields`."
        return Response(error_body("invalid", message, fields), status=exc.status_code, headers=headers)
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    return Response(error_body(str(code), str(detail)), status=exc.status_code, headers=headers)


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found", f"no endpoint at {request.path}"), status=status.HTTP_404_NOT_FOUND)


def json_server_error(request) -> JsonResponse:
    return JsonResponse(
        error_body("server_error", "the server failed to handle this request; it has been logged"),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
