"""Usage API: event ingestion (the hot path, kept lean) and current usage."""

from __future__ import annotations

import orjson
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from catalog.selectors import rate_card_get, version_effective_on, version_get
from contracts.selectors import customer_get
from contracts.services.clocks import customer_now
from revops import clock
from revops.api.errors import error_body
from revops.errors import ValidationError
from revops.models import ApiKey, ApiScope
from usage import selectors, services
from usage.ingest import RequestError, parse_batch


def _json(data: object, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), status=status, content_type="application/json")


class EventInput(serializers.Serializer):  # documentation only: the hot path validates by hand
    transaction_id = serializers.CharField(max_length=128, help_text="your unique id; a resend is counted once")
    customer = serializers.CharField(help_text="the customer's external id or one of its ingest aliases")
    event_type = serializers.CharField(max_length=128)
    timestamp = serializers.DateTimeField(required=False, help_text="RFC 3339; defaults to when it arrives")
    properties = serializers.DictField(required=False)


class EventBatchInput(serializers.Serializer):
    events = EventInput(many=True)


class EventOutcomeOutput(serializers.Serializer):
    index = serializers.IntegerField()
    transaction_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    code = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    field = serializers.CharField(required=False)


class EventBatchOutput(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = EventOutcomeOutput(many=True)


class EventIngestApi(APIView):
    """Send usage events: one event, a list, or {"events": [...]} with up to 1,000 events.

    Every event is reported: `accepted`, `duplicate` (its transaction_id was counted before with the same
    payload) or `rejected` with a code and a reason (e.g. `unknown_customer`, `too_old`, `in_future`,
    `invalid_property`, `conflict` when the id was used for a different event). One bad event never
    rejects the others. Retrying a whole request is always safe: events are idempotent by transaction_id.
    """

    required_scope = ApiScope.INGEST

    @extend_schema(
        operation_id="events_ingest",
        request=EventBatchInput,
        responses={200: EventBatchOutput},
        tags=["usage"],
        examples=[
            OpenApiExample(
                "A batch",
                request_only=True,
                value={
                    "events": [
                        {
                            "transaction_id": "req_8f2a",
                            "customer": "acme-robotics",
                            "event_type": "llm.completion",
                            "timestamp": "2026-11-24T10:00:00Z",
                            "properties": {"model": "lumen-large", "tokens": 1834},
                        }
                    ]
                },
            )
        ],
    )
    def post(self, request):
        limit = settings.REVOPS_EVENT_BODY_MAX_BYTES
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            return _json(error_body("body_too_large", f"the body exceeds {limit} bytes; send smaller batches"), 413)
        try:
            events = parse_batch(request.body, max_batch=settings.REVOPS_EVENT_BATCH_MAX)
        except RequestError as exc:
            return _json(error_body(exc.code, exc.message, {exc.field: [exc.message]} if exc.field else {}), exc.status)
        key = request.auth if isinstance(request.auth, ApiKey) else None
        result = services.usage_events_ingest(
            events=events, received_at=clock.now(), api_key_prefix=key.prefix if key else ""
        )
        results = []
        for o in result.outcomes:
            item = {"index": o.index, "transaction_id": o.transaction_id, "status": o.status}
            if o.status == "rejected":
                item.update(code=o.code, message=o.message)
                if o.field:
                    item["field"] = o.field
            results.append(item)
        return _json(
            {
                "accepted": result.count("accepted"),
                "duplicates": result.count("duplicate"),
                "rejected": result.count("rejected"),
                "results": results,
            }
        )


class GroupQuantityOutput(serializers.Serializer):
    group = serializers.CharField(help_text="the group-by value ('' when not split)")
    quantity = serializers.DecimalField(max_digits=38, decimal_places=12)
    event_count = serializers.IntegerField()


class MetricUsageOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.CharField()
    aggregation = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=38, decimal_places=12, help_text="all groups together")
    groups = GroupQuantityOutput(many=True)


class BreakdownOutput(serializers.Serializer):
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=38, decimal_places=12)
    unit_price = serializers.DecimalField(max_digits=38, decimal_places=12)
    flat_fee = serializers.DecimalField(max_digits=38, decimal_places=12)
    amount = serializers.DecimalField(max_digits=38, decimal_places=12)
    tier = serializers.IntegerField(allow_null=True)


class CostLineOutput(serializers.Serializer):
    product = serializers.CharField()
    product_name = serializers.CharField()
    metric = serializers.CharField()
    group = serializers.CharField(allow_null=True)
    quantity = serializers.DecimalField(max_digits=38, decimal_places=12)
    billable_quantity = serializers.DecimalField(max_digits=38, decimal_places=12)
    amount = serializers.DecimalField(max_digits=38, decimal_places=3, help_text="rounded once, to the minor unit")
    breakdown = BreakdownOutput(many=True)


class CurrentUsageOutput(serializers.Serializer):
    customer = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="exclusive")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    metrics = MetricUsageOutput(many=True)
    contract = serializers.IntegerField(allow_null=True, help_text="the contract that priced it, if any")
    rate_card = serializers.CharField(allow_null=True)
    rate_card_version = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    lines = CostLineOutput(many=True)
    total = serializers.DecimalField(max_digits=38, decimal_places=3, allow_null=True)
    problems = serializers.ListField(child=serializers.CharField())


def _decimal(value) -> str:
    return format(value, "f")


def current_usage_data(usage) -> dict:
    """Shape a CurrentUsage for JSON (decimal strings, as everywhere in the API)."""
    version = usage.version
    return {
        "customer": usage.customer.external_id,
        "period_start": usage.period.start.isoformat(),
        "period_end": usage.period.end.isoformat(),
        "starts_at": usage.start.isoformat(),
        "ends_at": usage.end.isoformat(),
        "metrics": [
            {
                "code": m.metric.code,
                "name": m.metric.name,
                "unit": m.metric.unit_label,
                "aggregation": m.metric.aggregation,
                "quantity": _decimal(
                    sum((q.quantity for q in m.quantities.values()), 0)
                    if m.metric.aggregation in ("count", "sum", "time_weighted_sum")
                    else max((q.quantity for q in m.quantities.values()), default=0)
                ),
                "groups": [
                    {"group": g, "quantity": _decimal(q.quantity), "event_count": q.event_count}
                    for g, q in sorted(m.quantities.items())
                ],
            }
            for m in usage.metrics
        ],
        "contract": usage.contract.pk if usage.contract else None,
        "rate_card": version.rate_card.code if version else None,
        "rate_card_version": version.number if version else None,
        "currency": version.rate_card.currency if version else None,
        "lines": [
            {
                "product": c.product_code,
                "product_name": c.product_name,
                "metric": c.metric_code,
                "group": c.line.group,
                "quantity": _decimal(c.line.quantity),
                "billable_quantity": _decimal(c.line.billable_quantity),
                "amount": _decimal(c.line.rounded_amount()),
                "breakdown": [
                    {
                        "description": b.description,
                        "quantity": _decimal(b.quantity),
                        "unit_price": _decimal(b.unit_price),
                        "flat_fee": _decimal(b.flat_fee),
                        "amount": _decimal(b.amount),
                        "tier": b.tier,
                    }
                    for b in c.line.breakdown
                ],
            }
            for c in usage.lines
        ],
        "total": _decimal(usage.total) if version else None,
        "problems": usage.problems,
    }


class CurrentUsageApi(APIView):
    """A customer's usage in the current billing period, per metric and group, and its cost so far.

    Events count here as soon as their ingest request is answered. A customer with a contract in effect
    is priced by it (its period, card version and terms). Naming a rate card (and optionally a version;
    default: the one in effect today) prices the usage with that card instead, over the calendar month in
    the customer's timezone: a what-if for customers with or without a contract.
    """

    @extend_schema(
        operation_id="customers_usage",
        parameters=[
            OpenApiParameter("rate_card", str, description="rate card code to price the usage with"),
            OpenApiParameter("version", int, description="version number (default: in effect today)"),
        ],
        responses=CurrentUsageOutput,
        tags=["usage"],
    )
    def get(self, request, external_id: str):
        customer = customer_get(external_id=external_id)
        now = customer_now(customer)
        version = None
        if request.query_params.get("rate_card"):
            card = rate_card_get(code=request.query_params["rate_card"])
            number = request.query_params.get("version")
            if number:
                if not number.isdigit():
                    raise ValidationError("version must be a number", field="version")
                version = version_get(rate_card=card, number=int(number))
            else:
                version = version_effective_on(rate_card=card, day=now.date())
                if version is None:
                    raise ValidationError(f"{card.code} has no version in effect today", field="rate_card")
        usage = selectors.current_usage(customer=customer, as_of=now, version=version)
        return _json(current_usage_data(usage))
