"""`GET /api/v1/whoami`: lets a system check its API key (name, scopes) without side effects."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from revops.api.permissions import ANY_SCOPE
from revops.api.views import ApiView
from revops.models import ApiKey


class WhoAmIOutput(serializers.Serializer):
    username = serializers.CharField()
    auth = serializers.ChoiceField(choices=["api_key", "session"])
    api_key_name = serializers.CharField(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())


class WhoAmIApi(ApiView):
    """Who the caller is: the account an API key acts as, and the key's scopes."""

    required_scope = ANY_SCOPE  # every key may ask who it is

    @extend_schema(operation_id="whoami", responses=WhoAmIOutput, tags=["platform"])
    def get(self, request):
        key = request.auth if isinstance(request.auth, ApiKey) else None
        return Response(
            WhoAmIOutput(
                {
                    "username": request.user.get_username(),
                    "auth": "api_key" if key else "session",
                    "api_key_name": key.name if key else None,
                    "scopes": key.scopes if key else ["read", "write", "ingest"],
                }
            ).data
        )
