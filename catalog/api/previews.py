"""Rate card version preview: the lines a version would bill for given quantities, with their breakdowns."""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from catalog import rating, selectors
from catalog.api.fields import amount_output, decimal_output, quantity_input
from catalog.api.prices import price_model_field
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.models import ApiScope
from revops.money import Money, sum_money

_DECIMAL = {"type": "string", "format": "decimal", "example": "123.5"}
_EVENT_AMOUNTS = {
    "type": "array",
    "items": _DECIMAL,
    "description": "each event's amount; the quantity is their sum (percentage prices: fixed fees, per-event clamps)",
}
_ONE_USAGE = {"oneOf": [_DECIMAL, _EVENT_AMOUNTS]}


@extend_schema_field(
    {
        "type": "object",
        "description": (
            "product code -> a quantity (decimal string), a list of per-event amounts, or, for a dimensional "
            "price, an object of group value -> quantity or list"
        ),
        "additionalProperties": {
            "oneOf": [_DECIMAL, _EVENT_AMOUNTS, {"type": "object", "additionalProperties": _ONE_USAGE}]
        },
        "example": {"seat": "12", "ai-tokens": {"small": "1234567", "large": "100000"}},
    }
)
class PreviewUsageField(serializers.Field):
    """Parses usage per product into the rating engine's `Usage`; errors name `usage.<code>[.<group>]`."""

    default_error_messages = {"not_object": "give an object: product code -> quantity"}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            self.fail("not_object")
        usage: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for code, value in data.items():
            if not isinstance(value, Mapping):
                try:
                    usage[code] = _usage(value)
                except ValueError as exc:
                    errors[code] = [str(exc)]
                continue
            usage[code] = {}
            for group, amounts in value.items():
                try:
                    usage[code][group] = _usage(amounts)
                except ValueError as exc:
                    errors.setdefault(code, {})[group] = [str(exc)]
        if errors:
            raise serializers.ValidationError(errors)
        return usage

    def to_representation(self, value: Any) -> Any:
        return value


_QUANTITY = quantity_input()  # the bounds stored quantities have, so rating stays exact
MAX_EVENT_AMOUNTS = 10_000


def _quantity(value: Any) -> Decimal:
    try:
        return _QUANTITY.to_internal_value(value)
    except serializers.ValidationError as exc:
        raise ValueError(" ".join(str(message) for message in exc.detail)) from None


def _usage(value: Any) -> rating.Usage:
    """One quantity, or a list of per-event amounts (the quantity is their sum). ValueError says what is wrong."""
    if isinstance(value, list):
        if len(value) > MAX_EVENT_AMOUNTS:
            raise ValueError(f"give at most {MAX_EVENT_AMOUNTS:,} per-event amounts")
        amounts = tuple(_quantity(amount) for amount in value)
        with decimal.localcontext() as context:
            context.prec = 50  # exact, like the engine's own sums
            total = sum(amounts, Decimal(0))
        return rating.Usage(quantity=total, event_values=amounts)
    if isinstance(value, Mapping):
        raise ValueError("give a quantity or a list of per-event amounts")
    return rating.Usage(quantity=_quantity(value))


class RateCardVersionPreviewInput(StrictInput):
    usage = PreviewUsageField(
        help_text=(
            "the period's usage per product. Left-out products bill zero usage, except that a dimensional "
            "price needs {} and a percentage with per-event clamps needs []"
        )
    )


class PreviewBreakdownOutput(serializers.Serializer):
    description = serializers.CharField()
    quantity = decimal_output()
    unit_price = decimal_output()
    flat_fee = decimal_output()
    amount = decimal_output()
    tier = serializers.IntegerField(allow_null=True, help_text="1-based, graduated and volume rows")


class PreviewLineOutput(serializers.Serializer):
    product = serializers.CharField(source="product.code")
    group = serializers.CharField(source="line.group", allow_null=True, help_text="dimensional: the group value")
    model = price_model_field(source="line.model")
    quantity = decimal_output(source="line.quantity")
    included_quantity = decimal_output(source="line.included_quantity")
    billable_quantity = decimal_output(source="line.billable_quantity")
    unit_price = decimal_output(source="line.unit_price")
    amount = decimal_output(source="line.amount", help_text="unrounded; the sum of the breakdown")
    rounded_amount = amount_output(source="line.rounded_amount", help_text="rounded once to the minor unit")
    currency = serializers.CharField(source="line.currency")
    breakdown = PreviewBreakdownOutput(source="line.breakdown", many=True)


class RateCardVersionPreviewOutput(serializers.Serializer):
    rate_card = serializers.CharField()
    version = serializers.IntegerField()
    currency = serializers.CharField()
    lines = PreviewLineOutput(many=True)
    total = amount_output(help_text="the sum of the rounded line amounts")


class RateCardVersionPreviewApi(ApiView):
    """What a version (draft or active) would bill for the given usage. Stores nothing."""

    required_scope = ApiScope.READ  # computes only

    @extend_schema(
        operation_id="rate_card_versions_preview",
        request=RateCardVersionPreviewInput,
        responses=RateCardVersionPreviewOutput,
        tags=["rate-cards"],
    )
    def post(self, request, code: str, number: int):
        card = selectors.rate_card_get(code=code)
        version = selectors.version_get(rate_card=card, number=number)
        data = RateCardVersionPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        lines = selectors.version_preview(version=version, usage=data.validated_data["usage"])
        total = sum_money([Money(p.line.rounded_amount(), p.line.currency) for p in lines], card.currency)
        output = {"rate_card": card.code, "version": version.number, "currency": card.currency}
        return Response(RateCardVersionPreviewOutput({**output, "lines": lines, "total": total.amount}).data)
