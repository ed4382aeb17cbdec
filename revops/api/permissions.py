"""Scopes: an API key may do only what its scopes allow; staff sessions act with their Django permissions.

A view names the scope it needs with `required_scope`; by default reads need
`read` and writes need `write` (`write` also allows reading). Ingestion views
ask for `ingest`, which `write` keys have too. `ANY_SCOPE` admits every active key.
"""

from __future__ import annotations

from rest_framework import permissions

from revops.models import ApiKey, ApiScope

ANY_SCOPE = "any"

# What each scope grants, beyond itself.
_IMPLIES = {
    ApiScope.WRITE: {ApiScope.WRITE, ApiScope.READ, ApiScope.INGEST},
    ApiScope.READ: {ApiScope.READ},
    ApiScope.INGEST: {ApiScope.INGEST},
}


def key_allows(api_key: ApiKey, scope: str) -> bool:
    if scope == ANY_SCOPE:
        return True
    return any(scope in _IMPLIES.get(ApiScope(s), set()) for s in api_key.scopes)


def required_scope(request, view) -> str:
    explicit = getattr(view, "required_scope", None)
    if explicit:
        return explicit
    return ApiScope.READ if request.method in permissions.SAFE_METHODS else ApiScope.WRITE


class HasScope(permissions.BasePermission):
    message = "this API key's scopes do not allow this request"

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if isinstance(request.auth, ApiKey):
            return key_allows(request.auth, required_scope(request, view))
        # Session logins are staff using the API from the browser or docs page.
        return bool(request.user.is_staff)
