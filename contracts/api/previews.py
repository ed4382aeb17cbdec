"""Contract preview: the lines one billing period would bill under the contract, for given usage.

Subscription fees are prorated by day over the period's changes; usage is priced with the terms in
effect when the period starts (overrides, included usage); a minimum spend adds a true-up. Stores
nothing, and leaves balances alone (billing applies them).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from catalog.api.fields import amount_output, decimal_output, quantity_input
from catalog.api.previews import PreviewBreakdownOutput
from contracts import selectors
from revops import clock
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.errors import ValidationError
from revops.models import ApiScope
from revops.money import Money, sum_money

_QUANTITY = {"type": "string", "format": "decimal", "example": "5000"}
_QUANTITY_INPUT = quantity_input(min_value=Decimal(0))  # the bounds stored quantities have


@extend_schema_field(
    {
        "type": "object",
        "description": (
            "usage product code -> its quantity for the period (a decimal string), or, for a price per "
            "group value, an object of group value -> quantity"
        ),
        "additionalProperties": {"oneOf": [_QUANTITY, {"type": "object", "additionalProperties": _QUANTITY}]},
        "example": {"credits": "5000", "tokens": {"large": "10000", "small": "20000"}},
    }
)
class ContractUsageField(serializers.Field):
    """Usage per product code (per group value for dimensional prices); errors name `usage.<code>[.<group>]`."""

    default_error_messages = {"not_object": "give an object: product code -> quantity"}

    def to_internal_value(self, data: Any) -> dict[str, Decimal | dict[str, Decimal]]:
        if not isinstance(data, Mapping):
            self.fail("not_object")
        usage: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for code, value in data.items():
            if not isinstance(value, Mapping):
                try:
                    usage[code] = _QUANTITY_INPUT.run_validation(value)
                except serializers.ValidationError as exc:
                    errors[code] = exc.detail
                continue
            usage[code] = {}
            for group, amount in value.items():
                try:
                    usage[code][group] = _QUANTITY_INPUT.run_validation(amount)
                except serializers.ValidationError as exc:
                    errors.setdefault(code, {})[group] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        return usage

    def to_representation(self, value: Any) -> Any:
        return value


class ContractPreviewInput(StrictInput):
    period_start = serializers.DateField(
        required=False, help_text="the first day of a billing period; default: the period containing today"
    )
    usage = ContractUsageField(required=False, help_text="the period's usage; products left out bill none")


class ContractPreviewLineOutput(serializers.Serializer):
    product = serializers.CharField(
        source="product.code", allow_null=True, help_text="the product's code; null: the minimum-spend true-up"
    )
    group = serializers.CharField(source="line.group", allow_null=True, help_text="dimensional: the group value")
    description = serializers.CharField(help_text="what and when; a prorated fee says by how many days")
    amount = amount_output(help_text="rounded once to the currency's minor unit; fees prorated by day")
    quantity = decimal_output(source="line.quantity", allow_null=True)
    included_quantity = decimal_output(source="line.included_quantity", allow_null=True)
    billable_quantity = decimal_output(source="line.billable_quantity", allow_null=True)
    unit_price = decimal_output(source="line.unit_price", allow_null=True)
    breakdown = PreviewBreakdownOutput(
        source="line.breakdown",
        many=True,
        allow_null=True,
        help_text="how the whole period's price is made up (before proration); null for the true-up",
    )


class ContractPreviewOutput(serializers.Serializer):
    contract = serializers.IntegerField()
    currency = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="exclusive")
    lines = ContractPreviewLineOutput(many=True)
    total = amount_output(help_text="the sum of the line amounts")


def preview_data(contract, period, lines) -> dict:
    """A period's preview lines shaped for the API, with their total (sums of rounded lines)."""
    total = sum_money([Money(line.amount, contract.currency) for line in lines], contract.currency)
    return ContractPreviewOutput(
        {
            "contract": contract.pk,
            "currency": contract.currency,
            "period_start": period.start,
            "period_end": period.end,
            "lines": lines,
            "total": total.amount,
        }
    ).data


class ContractPreviewApi(ApiView):
    """What one billing period of the contract would bill for the given usage. Stores nothing."""

    required_scope = ApiScope.READ  # computes only

    @extend_schema(
        operation_id="contracts_preview",
        request=ContractPreviewInput,
        responses=ContractPreviewOutput,
        tags=["contracts"],
    )
    def post(self, request, pk: int):
        contract = selectors.contract_get(pk=pk)
        data = ContractPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        start = fields.get("period_start") or clock.today()
        period = selectors.contract_period(contract, start)
        if "period_start" in fields and period.start != start:
            raise ValidationError(
                f"{start} does not start a billing period of this contract; the period containing it starts on "
                f"{period.start}",
                code="not_a_period_start",
                field="period_start",
            )
        lines = selectors.contract_preview(contract=contract, period=period, usage=fields.get("usage", {}))
        return Response(preview_data(contract, period, lines))
