"""Customer API: customers by external id, and their ingest aliases."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog.api.fields import IDEMPOTENCY
from contracts import selectors, services
from contracts.models import Customer, TestClock
from revops import access
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.errors import NotFound


class CustomerOutput(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "external_id",
            "name",
            "currency",
            "billing_email",
            "billing_address",
            "tax_id",
            "timezone",
            "metadata",
            "tax_region",
            "tax_exempt",
            "tax_exempt_reason",
            "tax_rate_percent",
            "test_clock",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"test_clock": {"help_text": "the test clock it lives on (a simulated customer), or null"}}


class CustomerCreateInput(StrictInput):
    external_id = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(max_length=3)
    billing_email = serializers.EmailField(required=False, allow_blank=True)
    billing_address = serializers.CharField(required=False, allow_blank=True)
    tax_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    timezone = serializers.CharField(required=False, max_length=64)
    metadata = serializers.DictField(required=False)
    tax_region = serializers.CharField(
        required=False, allow_blank=True, max_length=16, help_text="ISO 3166 code (DE, US-CA) or EU; empty: no tax"
    )
    tax_exempt = serializers.BooleanField(required=False)
    tax_exempt_reason = serializers.CharField(required=False, allow_blank=True, help_text="needed when exempt")
    tax_rate_percent = serializers.DecimalField(
        max_digits=8, decimal_places=4, required=False, allow_null=True, help_text="customer-specific rate (%)"
    )
    test_clock = serializers.PrimaryKeyRelatedField(
        queryset=TestClock.objects.all(),
        required=False,
        help_text="a test clock's id: the customer is simulated and lives at the clock's time",
    )
    reason = serializers.CharField(required=False, max_length=500, help_text="why; kept in the history")


class CustomerUpdateInput(StrictInput):
    name = serializers.CharField(max_length=200, required=False)
    billing_email = serializers.EmailField(required=False, allow_blank=True)
    billing_address = serializers.CharField(required=False, allow_blank=True)
    tax_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    timezone = serializers.CharField(required=False, max_length=64)
    metadata = serializers.DictField(required=False)
    tax_region = serializers.CharField(
        required=False, allow_blank=True, max_length=16, help_text="ISO 3166 code (DE, US-CA) or EU; empty: no tax"
    )
    tax_exempt = serializers.BooleanField(required=False)
    tax_exempt_reason = serializers.CharField(required=False, allow_blank=True, help_text="needed when exempt")
    tax_rate_percent = serializers.DecimalField(
        max_digits=8, decimal_places=4, required=False, allow_null=True, help_text="customer-specific rate (%)"
    )
    reason = serializers.CharField(max_length=500, help_text="why; kept in the history")


class CustomerListCreateApi(ApiView):
    """List customers (search by name or external id), or create one."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="customers_list",
        parameters=[OpenApiParameter("search", str, description="part of the name or external id")],
        responses=CustomerOutput(many=True),
        tags=["customers"],
    )
    def get(self, request):
        paginator = self.pagination_class()
        customers = access.visible_to(request, selectors.customer_list(search=request.query_params.get("search")))
        page = paginator.paginate_queryset(customers, request, view=self)
        return paginator.get_paginated_response(CustomerOutput(page, many=True).data)

    @extend_schema(
        operation_id="customers_create",
        request=CustomerCreateInput,
        responses={201: CustomerOutput},
        parameters=[IDEMPOTENCY],
        tags=["customers"],
    )
    def post(self, request):
        data = CustomerCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason", "customer created over the API")
        customer = services.customer_create(actor=request.user, reason=reason, **fields)
        return Response(CustomerOutput(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(ApiView):
    """Read a customer by external id, or change its details (with a reason, kept in the history)."""

    @extend_schema(operation_id="customers_retrieve", responses=CustomerOutput, tags=["customers"])
    def get(self, request, external_id: str):
        return Response(CustomerOutput(selectors.customer_get(external_id=external_id)).data)

    @extend_schema(
        operation_id="customers_update",
        request=CustomerUpdateInput,
        responses=CustomerOutput,
        parameters=[IDEMPOTENCY],
        tags=["customers"],
    )
    def patch(self, request, external_id: str):
        data = CustomerUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason")
        customer = services.customer_update(
            customer=selectors.customer_get(external_id=external_id),
            actor=request.user,
            reason=reason,
            **fields,
        )
        return Response(CustomerOutput(customer).data)


class CustomerAliasInput(StrictInput):
    alias = serializers.CharField(max_length=128)


class CustomerAliasOutput(serializers.Serializer):
    alias = serializers.CharField()
    created_at = serializers.DateTimeField()


class CustomerAliasListCreateApi(ApiView):
    """Ingest aliases: other ids a customer's usage events may name it by (a workspace id, an account slug)."""

    @extend_schema(operation_id="customer_aliases_list", responses=CustomerAliasOutput(many=True), tags=["customers"])
    def get(self, request, external_id: str):
        customer = selectors.customer_get(external_id=external_id)
        return Response(CustomerAliasOutput(customer.aliases.order_by("alias"), many=True).data)

    @extend_schema(
        operation_id="customer_aliases_create",
        request=CustomerAliasInput,
        responses={201: CustomerAliasOutput},
        parameters=[IDEMPOTENCY],
        tags=["customers"],
    )
    def post(self, request, external_id: str):
        data = CustomerAliasInput(data=request.data)
        data.is_valid(raise_exception=True)
        alias = services.customer_alias_add(
            customer=selectors.customer_get(external_id=external_id),
            alias=data.validated_data["alias"],
            actor=request.user,
        )
        return Response(CustomerAliasOutput(alias).data, status=status.HTTP_201_CREATED)


class CustomerAliasDeleteApi(ApiView):
    """Remove an ingest alias; events sent under it afterwards are rejected as `unknown_customer`."""

    @extend_schema(operation_id="customer_aliases_delete", responses={204: None}, tags=["customers"])
    def delete(self, request, external_id: str, alias: str):
        customer = selectors.customer_get(external_id=external_id)
        found = customer.aliases.filter(alias=alias).first()
        if found is None:
            raise NotFound(f"{external_id} has no alias {alias!r}", code="alias_not_found")
        services.customer_alias_remove(alias=found, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
