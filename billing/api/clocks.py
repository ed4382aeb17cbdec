"""Test clock API: create, list, read and delete clocks; put customers on them; advance them.

A clock holds a frozen time; the customers on it live at that time (their events, usage, invoices and
balances), and advancing it runs in order every period close, finalization and expiry in between.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from billing.services import clocks as services
from catalog.api.fields import IDEMPOTENCY, NamedChoiceField
from contracts import selectors as contract_selectors
from contracts.models import TestClock, TestClockStatus
from contracts.services.clocks import test_clock_create
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.errors import NotFound

TAGS = ["test clocks"]


class TestClockOutput(serializers.ModelSerializer):
    status = NamedChoiceField(enum_name="TestClockStatus", choices=TestClockStatus.choices, read_only=True)
    error = serializers.CharField(read_only=True, help_text="why the last advance failed ('' if it did not)")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    customers = serializers.SlugRelatedField(
        slug_field="external_id", many=True, read_only=True, help_text="external ids of the customers on it"
    )

    class Meta:
        model = TestClock
        fields = ["id", "name", "frozen_time", "status", "error", "customers", "created_by", "created_at"]


class TestClockCreateInput(StrictInput):
    name = serializers.CharField(max_length=200)
    frozen_time = serializers.DateTimeField(help_text="where the clock starts, with its UTC offset")


class TestClockAdvanceInput(StrictInput):
    frozen_time = serializers.DateTimeField(help_text="the new time: later than the clock's")


class TestClockCustomerInput(StrictInput):
    customer = serializers.CharField(max_length=128, help_text="the external id of a customer with no final invoice")


def _clock_get(pk: int) -> TestClock:
    found = TestClock.objects.filter(pk=pk).select_related("created_by").prefetch_related("customers").first()
    if found is None:
        raise NotFound(f"no test clock {pk}", code="test_clock_not_found")
    return found


class TestClockListCreateApi(ApiView):
    """Test clocks, newest first; or create one at a time of your choosing."""

    pagination_class = Pagination

    @extend_schema(operation_id="test_clocks_list", responses=TestClockOutput(many=True), tags=TAGS)
    def get(self, request):
        clocks = TestClock.objects.select_related("created_by").prefetch_related("customers").order_by("-pk")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(clocks, request, view=self)
        return paginator.get_paginated_response(TestClockOutput(page, many=True).data)

    @extend_schema(
        operation_id="test_clocks_create",
        request=TestClockCreateInput,
        responses={201: TestClockOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request):
        data = TestClockCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        made = test_clock_create(actor=request.user, **data.validated_data)
        return Response(TestClockOutput(_clock_get(made.pk)).data, status=status.HTTP_201_CREATED)


class TestClockDetailApi(ApiView):
    """Read a clock, or delete it with its customers' simulated data (refused once any of it is frozen:
    a finalized invoice or a balance ledger entry)."""

    @extend_schema(operation_id="test_clocks_retrieve", responses=TestClockOutput, tags=TAGS)
    def get(self, request, pk: int):
        return Response(TestClockOutput(_clock_get(pk)).data)

    @extend_schema(operation_id="test_clocks_delete", responses={204: None}, tags=TAGS)
    def delete(self, request, pk: int):
        services.test_clock_delete(test_clock=_clock_get(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TestClockAdvanceApi(ApiView):
    """Move the clock forward: every period close, finalization and expiry of its customers' contracts between
    the old and the new time runs, in order. The answer is the clock: `ready` at the new time, or `failed` with
    the error at the last step that completed (advance again once the cause is fixed)."""

    @extend_schema(
        operation_id="test_clocks_advance",
        request=TestClockAdvanceInput,
        responses=TestClockOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        data = TestClockAdvanceInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.test_clock_advance(
            test_clock=_clock_get(pk), frozen_time=data.validated_data["frozen_time"], actor=request.user
        )
        return Response(TestClockOutput(_clock_get(pk)).data)


class TestClockCustomerAttachApi(ApiView):
    """Put an existing customer on the clock (only while it has no finalized invoice)."""

    @extend_schema(
        operation_id="test_clocks_customers_attach",
        request=TestClockCustomerInput,
        responses=TestClockOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        data = TestClockCustomerInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = contract_selectors.customer_get(external_id=data.validated_data["customer"])
        services.test_clock_customer_attach(test_clock=_clock_get(pk), customer=customer, actor=request.user)
        return Response(TestClockOutput(_clock_get(pk)).data)
