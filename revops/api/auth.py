"""API key authentication: `Authorization: Bearer rk_...` (or `X-Api-Key: rk_...`)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from revops import clock
from revops.apikeys import KEY_PREFIX, api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Requests act as the key's user; `request.auth` is the ApiKey (its scopes limit what it may do)."""

    def authenticate(self, request):
        presented = request.META.get("HTTP_X_API_KEY", "")
        if not presented:
            header = request.META.get("HTTP_AUTHORIZATION", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.startswith(KEY_PREFIX):
                return None
            presented = value.strip()
        api_key = api_key_authenticate(presented=presented, as_of=clock.now())
        if api_key is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API key")
        return (api_key.user, api_key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "revops.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key: `Bearer rk_...`"}
