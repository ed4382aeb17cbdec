"""Price API: add, replace and remove the prices of a draft rate card version.

A price names its product, its model and that model's fields (`values` in the services), and, for
graduated and volume prices, its tiers. Fields a model does not use are left out (stored as null);
the services refuse a field that does not apply to the model, naming it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog import selectors
from catalog.api.fields import (
    IDEMPOTENCY,
    DecimalString,
    NamedChoiceField,
    decimal_output,
    quantity_input,
    rate_input,
    reason_input,
)
from catalog.models import PackageRounding, Price, PriceTier, Product
from catalog.services import rate_cards as services
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.errors import NotFound
from revops.money import ROUNDING_MODES


def price_model_field(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="PriceModel", choices=Price._meta.get_field("model").choices, **kwargs)


def _package_rounding(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="PackageRounding", choices=PackageRounding.choices, **kwargs)


def _rounding(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="RoundingMode", choices=sorted(ROUNDING_MODES), **kwargs)


class PriceTierOutput(serializers.ModelSerializer):
    start = decimal_output()
    up_to = decimal_output(allow_null=True, help_text="null: unbounded")
    unit_price = decimal_output()
    flat_fee = decimal_output()

    class Meta:
        model = PriceTier
        fields = ["start", "up_to", "unit_price", "flat_fee"]


class PriceOutput(serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="code", read_only=True)
    model = price_model_field(read_only=True)
    package_rounding = _package_rounding(read_only=True)
    rounding = _rounding(read_only=True)
    flat_amount = decimal_output(allow_null=True)
    unit_price = decimal_output(allow_null=True)
    package_size = decimal_output(allow_null=True)
    package_price = decimal_output(allow_null=True)
    percentage = decimal_output(allow_null=True)
    fixed_fee_per_event = decimal_output(allow_null=True)
    min_per_event = decimal_output(allow_null=True)
    max_per_event = decimal_output(allow_null=True)
    included_units = decimal_output()
    minimum_charge = decimal_output(allow_null=True)
    maximum_charge = decimal_output(allow_null=True)
    tiers = PriceTierOutput(many=True, read_only=True)

    class Meta:
        model = Price
        fields = [
            "id",
            "product",
            "group_key",
            "group_value",
            "model",
            "currency",
            "flat_amount",
            "unit_price",
            "package_size",
            "package_price",
            "package_rounding",
            "percentage",
            "fixed_fee_per_event",
            "min_per_event",
            "max_per_event",
            "included_units",
            "minimum_charge",
            "maximum_charge",
            "rounding",
            "tiers",
        ]


class PriceTierInput(StrictInput):
    start = quantity_input(help_text="the tier prices quantities above this")
    up_to = quantity_input(
        required=False, allow_null=True, default=None, help_text="up to and including; null: unbounded"
    )
    unit_price = rate_input()
    flat_fee = rate_input(required=False, default=Decimal(0), help_text="charged once when the tier is reached")


class _PriceTermsInput(StrictInput):
    """A price model and the fields it uses; leave out the rest."""

    model = price_model_field()
    currency = serializers.CharField(required=False, max_length=3, help_text="the rate card's; another is refused")
    flat_amount = rate_input(required=False, allow_null=True, help_text="flat: the amount per period")
    unit_price = rate_input(required=False, allow_null=True, help_text="per_unit")
    package_size = quantity_input(required=False, allow_null=True, help_text="package: units per block")
    package_price = rate_input(required=False, allow_null=True, help_text="package: the price of a block")
    package_rounding = _package_rounding(required=False, help_text="package: bill every started block (up, default)")
    percentage = DecimalString(
        max_digits=9, decimal_places=6, required=False, allow_null=True, help_text="percentage: 2.9 means 2.9%"
    )
    fixed_fee_per_event = rate_input(required=False, allow_null=True, help_text="percentage")
    min_per_event = rate_input(required=False, allow_null=True, help_text="percentage: needs per-event amounts")
    max_per_event = rate_input(required=False, allow_null=True, help_text="percentage: needs per-event amounts")
    included_units = quantity_input(required=False, help_text="free units (volume for percentage) per period")
    minimum_charge = rate_input(required=False, allow_null=True, help_text="the least the line bills per period")
    maximum_charge = rate_input(required=False, allow_null=True, help_text="the most the line bills per period")
    rounding = _rounding(required=False, help_text="how the line rounds (default half_up)")
    tiers = PriceTierInput(many=True, required=False, help_text="graduated and volume prices")

    def validate_currency(self, value: str) -> str:
        return value.upper()


class PriceCreateInput(_PriceTermsInput):
    product = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Product.objects.all(),
        help_text="the product's code",
        error_messages={"does_not_exist": "no product with code {value!r}"},
    )
    group_key = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="dimensional: the metric's group-by property"
    )
    group_value = serializers.CharField(
        required=False, allow_blank=True, max_length=128, help_text='dimensional: the value priced; "" = the default'
    )
    reason = reason_input(required=False)


class PriceReplaceInput(_PriceTermsInput):
    """The price's new terms. Its product, group key and group value stay (they say which price it is)."""

    reason = reason_input(required=True)


def _terms(fields: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The given price fields (omitted ones take the service's defaults) and the tiers."""
    values = {name: fields[name] for name in (*services.PRICE_VALUE_FIELDS, "currency") if name in fields}
    return values, list(fields.get("tiers", []))


def _price_of(code: str, number: int, price_id: int) -> Price:
    version = selectors.version_get(rate_card=selectors.rate_card_get(code=code), number=number)
    price = next((p for p in version.prices.all() if p.pk == price_id), None)
    if price is None:
        raise NotFound(f"v{number} of {code} has no price {price_id}", code="price_not_found")
    return price


class PriceCreateApi(ApiView):
    """Add a product's price to a draft version (409 `version_not_draft` once it is active)."""

    @extend_schema(
        operation_id="rate_card_prices_create",
        request=PriceCreateInput,
        responses={201: PriceOutput},
        parameters=[IDEMPOTENCY],
        tags=["rate-cards"],
    )
    def post(self, request, code: str, number: int):
        version = selectors.version_get(rate_card=selectors.rate_card_get(code=code), number=number)
        data = PriceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        values, tiers = _terms(fields)
        price = services.price_set(
            version=version,
            product=fields["product"],
            values=values,
            tiers=tiers,
            group_key=fields.get("group_key", ""),
            group_value=fields.get("group_value", ""),
            actor=request.user,
            reason=fields.get("reason", "price set over the API"),
        )
        return Response(PriceOutput(price).data, status=status.HTTP_201_CREATED)


class PriceDetailApi(ApiView):
    """Replace a draft version's price with new terms, or remove it."""

    @extend_schema(
        operation_id="rate_card_prices_replace",
        request=PriceReplaceInput,
        responses=PriceOutput,
        parameters=[IDEMPOTENCY],
        tags=["rate-cards"],
    )
    def put(self, request, code: str, number: int, price_id: int):
        price = _price_of(code, number, price_id)
        data = PriceReplaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        values, tiers = _terms(fields)
        price = services.price_set(
            version=price.version,
            product=price.product,
            values=values,
            tiers=tiers,
            group_key=price.group_key,
            group_value=price.group_value,
            replace=True,
            actor=request.user,
            reason=fields["reason"],
        )
        return Response(PriceOutput(price).data)

    @extend_schema(
        operation_id="rate_card_prices_delete",
        parameters=[
            OpenApiParameter("reason", str, description="why; kept in the history (optional)"),
            IDEMPOTENCY,
        ],
        responses={204: None},
        tags=["rate-cards"],
    )
    def delete(self, request, code: str, number: int, price_id: int):
        services.price_delete(
            price=_price_of(code, number, price_id),
            actor=request.user,
            reason=request.query_params.get("reason") or "price removed over the API",
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
