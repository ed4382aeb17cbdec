"""Base API views: every write honours Idempotency-Key; /healthz. App views subclass `ApiView`."""

from __future__ import annotations

from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from revops import clock, history
from revops.api import idempotency
from revops.api.permissions import REASON_HEADER, own_reason

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _Replayed(Exception):
    """Raised after authentication when the Idempotency-Key already has a stored response."""

    def __init__(self, replay: idempotency.Replay) -> None:
        self.replay = replay


class IdempotentMixin:
    """Claims the Idempotency-Key once the caller is authenticated, and stores the response."""

    _idempotency_record = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.META.get(idempotency.HEADER)
        owner = idempotency.owner_of(request)
        if key is None or request.method not in WRITE_METHODS or owner is None:
            return
        outcome = idempotency.claim(
            owner=owner,
            key=key,
            method=request.method,
            path=request.get_full_path(),
            body=request._request.body,
            as_of=clock.now(),
        )
        if isinstance(outcome, idempotency.Replay):
            raise _Replayed(outcome)
        self._idempotency_record = outcome

    def handle_exception(self, exc):
        if isinstance(exc, _Replayed):
            response = Response(exc.replay.body, status=exc.replay.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            idempotency.complete(record, status_code=response.status_code, body=response.data, as_of=clock.now())
        return super().finalize_response(request, response, *args, **kwargs)


class ApiView(IdempotentMixin, APIView):
    """Base for one-operation API views (`InvoiceFinalizeApi`)."""

    _reason_token = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # The caller's X-Change-Reason goes into every history record this request writes, unless the
        # operation's own `reason` field says why (the service records that one).
        if not own_reason(request):
            self._reason_token = history.use_reason(request.META.get(REASON_HEADER))

    def finalize_response(self, request, response, *args, **kwargs):
        token, self._reason_token = self._reason_token, None
        if token is not None:
            history.forget_reason(token)
        return super().finalize_response(request, response, *args, **kwargs)


_HealthOutput = inline_serializer(
    "HealthOutput", {"status": serializers.CharField(), "database": serializers.CharField()}
)


class HealthzApi(APIView):
    """Liveness and readiness: 200 when the database answers, 503 otherwise."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(auth=[], responses={200: _HealthOutput, 503: _HealthOutput}, tags=["health"])
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception as exc:  # any database failure means "not ready"
            return Response({"status": "unavailable", "database": f"error: {exc.__class__.__name__}"}, status=503)
        return Response({"status": "ok", "database": "ok"})
