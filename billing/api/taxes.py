"""Tax rates over the API: list and read (read scope), create and change (write scope, with a reason)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from billing.services import taxes
from billing.taxes import TaxRate
from catalog.api.fields import IDEMPOTENCY, decimal_output, reason_input
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView

TAGS = ["tax rates"]


class TaxRateOutput(serializers.ModelSerializer):
    rate_percent = decimal_output(help_text="percent, up to 4 decimals")

    class Meta:
        model = TaxRate
        fields = ["id", "name", "rate_percent", "region", "effective_from", "effective_to", "created_at"]


class TaxRateCreateInput(StrictInput):
    name = serializers.CharField(max_length=100, help_text="as printed on invoices, e.g. VAT")
    rate_percent = serializers.DecimalField(max_digits=12, decimal_places=8, help_text="e.g. 8.25 (at most 4 decimals)")
    region = serializers.CharField(max_length=16, help_text="ISO 3166 code (DE, US-CA) or EU")
    effective_from = serializers.DateField()
    effective_to = serializers.DateField(required=False, allow_null=True, help_text="exclusive; empty: open-ended")
    reason = reason_input(required=False)


class TaxRateUpdateInput(StrictInput):
    name = serializers.CharField(max_length=100, required=False)
    rate_percent = serializers.DecimalField(max_digits=12, decimal_places=8, required=False)
    region = serializers.CharField(max_length=16, required=False)
    effective_from = serializers.DateField(required=False)
    effective_to = serializers.DateField(required=False, allow_null=True)
    reason = reason_input(required=True)


class TaxRateListCreateApi(ApiView):
    """Tax rates by region and start; create one (a region has one rate on any day)."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="tax_rates_list",
        parameters=[OpenApiParameter("region", str, description="only this region's rates")],
        responses=TaxRateOutput(many=True),
        tags=TAGS,
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            taxes.tax_rate_list(region=request.query_params.get("region")), request, view=self
        )
        return paginator.get_paginated_response(TaxRateOutput(page, many=True).data)

    @extend_schema(
        operation_id="tax_rates_create",
        request=TaxRateCreateInput,
        responses={201: TaxRateOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request):
        data = TaxRateCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason", "") or "tax rate created over the API"
        rate = taxes.tax_rate_create(actor=request.user, reason=reason, **values)
        return Response(TaxRateOutput(rate).data, status=status.HTTP_201_CREATED)


class TaxRateDetailApi(ApiView):
    """Read a tax rate, or change it (once used on an issued invoice, only its end date can change)."""

    @extend_schema(operation_id="tax_rates_retrieve", responses=TaxRateOutput, tags=TAGS)
    def get(self, request, pk: int):
        return Response(TaxRateOutput(taxes.tax_rate_get(pk=pk)).data)

    @extend_schema(
        operation_id="tax_rates_update",
        request=TaxRateUpdateInput,
        responses=TaxRateOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def patch(self, request, pk: int):
        data = TaxRateUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason")
        rate = taxes.tax_rate_update(tax_rate=taxes.tax_rate_get(pk=pk), actor=request.user, reason=reason, **values)
        return Response(TaxRateOutput(rate).data)
