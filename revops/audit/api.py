"""Audit API: the log across every historical table (JSON, paged; or CSV), and rate cards and contracts as they were."""

from __future__ import annotations

import csv
import io
import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.audit import selectors
from revops.audit.selectors import ACTIONS, AuditFilter

TAGS = ["audit"]
CSV_COLUMNS = ["at", "actor", "action", "object_type", "object_id", "object", "reason", "changes"]


class AuditLogFilterInput(StrictInput):
    object_type = serializers.CharField(required=False, help_text="catalog.price, rate_card, contract, ...")
    object_id = serializers.CharField(required=False)
    actor = serializers.CharField(required=False, help_text="a username")
    since = serializers.DateTimeField(required=False, help_text="from this time (included)")
    until = serializers.DateTimeField(required=False, help_text="up to this time (excluded)")
    action = serializers.ChoiceField(choices=list(ACTIONS), required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class AuditChangeOutput(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class AuditEntryOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True, help_text="username; null for system work (commands, demo data)")
    action = serializers.ChoiceField(choices=list(ACTIONS))
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    object = serializers.CharField()
    reason = serializers.CharField()
    changes = AuditChangeOutput(many=True)


class _Log:
    """The filtered log as a sequence the paginator can count and slice; each slice is one page query."""

    def __init__(self, wanted: AuditFilter) -> None:
        self.wanted = wanted
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = selectors.audit_log_count(self.wanted)
        return self._count

    def count(self) -> int:
        return len(self)

    def __getitem__(self, index: slice):
        start, stop = index.start or 0, index.stop if index.stop is not None else len(self)
        return selectors.audit_log_page(self.wanted, offset=start, limit=max(stop - start, 0))


def audit_filter(query) -> AuditFilter:
    data = AuditLogFilterInput(data=query.dict() if hasattr(query, "dict") else dict(query))
    data.is_valid(raise_exception=True)
    fields = {k: v for k, v in data.validated_data.items() if k not in ("page", "page_size")}
    return AuditFilter(**fields)


def csv_rows(entries) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        changes = "; ".join(f"{c.field}: {json.dumps(c.old)} -> {json.dumps(c.new)}" for c in e.changes)
        writer.writerow(
            [e.at.isoformat(), e.actor or "", e.action, e.object_type, e.object_id, e.object, e.reason, changes]
        )
    return out.getvalue()


CSV_LIMIT = 100_000  # one export; narrow the filter for more


class AuditLogApi(ApiView):
    """Every audited change, newest first: who, when, which object, what changed (field by field), and why."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="audit_log",
        parameters=[AuditLogFilterInput],
        responses=AuditEntryOutput(many=True),
        tags=TAGS,
    )
    def get(self, request):
        log = _Log(audit_filter(request.query_params))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(log, request, view=self)
        return paginator.get_paginated_response(AuditEntryOutput(page, many=True).data)


class AuditLogCsvApi(ApiView):
    """The same log as CSV (same filters, no paging; up to 100,000 rows)."""

    @extend_schema(
        operation_id="audit_log_csv",
        parameters=[AuditLogFilterInput],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=TAGS,
    )
    def get(self, request):
        entries = selectors.audit_log_page(audit_filter(request.query_params), offset=0, limit=CSV_LIMIT)
        response = HttpResponse(csv_rows(entries), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
        return response


class AsOfInput(StrictInput):
    as_of = serializers.DateTimeField(help_text="the moment to read the object at (RFC 3339)")


AS_OF = OpenApiParameter("as_of", OpenApiTypes.DATETIME, required=True, description="the moment to read it at")


class RateCardAsOfApi(ApiView):
    """A rate card with its versions, prices and tiers exactly as the history tables held them at `as_of`."""

    @extend_schema(operation_id="audit_rate_card_as_of", parameters=[AS_OF], responses=OpenApiTypes.OBJECT, tags=TAGS)
    def get(self, request, code: str):
        data = AsOfInput(data=request.query_params.dict())
        data.is_valid(raise_exception=True)
        return Response(selectors.rate_card_as_of(code=code, when=data.validated_data["as_of"]))


class ContractAsOfApi(ApiView):
    """A contract with its versions of terms, subscription changes and balances as held at `as_of`."""

    @extend_schema(operation_id="audit_contract_as_of", parameters=[AS_OF], responses=OpenApiTypes.OBJECT, tags=TAGS)
    def get(self, request, pk: int):
        data = AsOfInput(data=request.query_params.dict())
        data.is_valid(raise_exception=True)
        return Response(selectors.contract_as_of(pk=pk, when=data.validated_data["as_of"]))
