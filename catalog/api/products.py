"""Product API: list, create, read, and change a product's descriptive fields."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog import selectors
from catalog.api.fields import IDEMPOTENCY, NamedChoiceField, rate_input, reason_input
from catalog.models import BillableMetric, BillingTiming, Product, ProductKind
from catalog.services import products as services
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView


def _kind(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="ProductKind", choices=ProductKind.choices, **kwargs)


def _billing_timing(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="ProductBillingTiming", choices=BillingTiming.choices, **kwargs)


class ProductOutput(serializers.ModelSerializer):
    kind = _kind(read_only=True)
    billing_timing = _billing_timing(read_only=True)
    metric = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Product
        fields = [
            "code",
            "name",
            "description",
            "kind",
            "metric",
            "billing_timing",
            "unit_label",
            "product_line",
            "price_floor",
            "is_active",
            "created_at",
            "updated_at",
        ]


class ProductCreateInput(StrictInput):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    kind = _kind()
    metric = serializers.SlugRelatedField(
        slug_field="code",
        queryset=BillableMetric.objects.all(),
        required=False,
        allow_null=True,
        help_text="the metric's code; usage products only",
        error_messages={"does_not_exist": "no metric with code {value!r}"},
    )
    billing_timing = _billing_timing(required=False, help_text="default: in arrears for usage, else in advance")
    description = serializers.CharField(required=False, allow_blank=True)
    unit_label = serializers.CharField(required=False, allow_blank=True, max_length=32)
    product_line = serializers.CharField(required=False, allow_blank=True, max_length=64)
    reason = reason_input(required=False)


class ProductUpdateInput(StrictInput):
    """Descriptive fields only: kind, metric and timing shape invoices already issued, so they never change."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    unit_label = serializers.CharField(required=False, allow_blank=True, max_length=32)
    product_line = serializers.CharField(required=False, allow_blank=True, max_length=64)
    is_active = serializers.BooleanField(required=False)
    price_floor = rate_input(required=False, allow_null=True, help_text="lowest rate any price may have; null: none")
    reason = reason_input(required=True)


class ProductListCreateApi(ApiView):
    """List products, or create one."""

    pagination_class = Pagination

    @extend_schema(operation_id="products_list", responses=ProductOutput(many=True), tags=["products"])
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            Product.objects.select_related("metric").order_by("code"), request, view=self
        )
        return paginator.get_paginated_response(ProductOutput(page, many=True).data)

    @extend_schema(
        operation_id="products_create",
        request=ProductCreateInput,
        responses={201: ProductOutput},
        parameters=[IDEMPOTENCY],
        tags=["products"],
    )
    def post(self, request):
        data = ProductCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason", "product created over the API")
        product = services.product_create(actor=request.user, reason=reason, **fields)
        return Response(ProductOutput(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(ApiView):
    """Read a product, or change its descriptive fields (with a reason, kept in the history)."""

    @extend_schema(operation_id="products_retrieve", responses=ProductOutput, tags=["products"])
    def get(self, request, code: str):
        return Response(ProductOutput(selectors.product_get(code=code)).data)

    @extend_schema(
        operation_id="products_update",
        request=ProductUpdateInput,
        responses=ProductOutput,
        parameters=[IDEMPOTENCY],
        tags=["products"],
    )
    def patch(self, request, code: str):
        product = selectors.product_get(code=code)
        data = ProductUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason")
        product = services.product_update(product=product, actor=request.user, reason=reason, **fields)
        return Response(ProductOutput(product).data)
