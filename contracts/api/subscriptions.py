"""Subscription API: a contract's subscription schedule, changes to it, and plan changes.

The schedule is append-only: each change sets a product's quantity from its effective date, so it can
be read as it was on any day. A change takes effect at once (prorated by day) or at the end of the
period it falls in; a plan change moves a quantity from one product to another at the same moment.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog.api.fields import IDEMPOTENCY, decimal_output, quantity_input, reason_input
from contracts import selectors
from contracts.api.common import change_timing, product_field, product_output, username_output
from contracts.models import SubscriptionChange
from contracts.services import contracts as services
from contracts.services.clocks import customer_now
from revops.api.serializers import StrictInput
from revops.api.views import ApiView

TAGS = ["contracts"]


class SubscriptionChangeOutput(serializers.ModelSerializer):
    product = product_output()
    quantity = decimal_output(help_text="the quantity from effective_date on; 0 ends the subscription")
    timing = change_timing(read_only=True)
    created_by = username_output("created_by")

    class Meta:
        model = SubscriptionChange
        fields = ["id", "product", "quantity", "effective_date", "timing", "reason", "created_at", "created_by"]


class SubscriptionChangeInput(StrictInput):
    product = product_field(help_text="a subscription, recurring fee or one-time product's code")
    quantity = quantity_input(help_text="the new quantity (not a difference); 0 ends it")
    effective_date = serializers.DateField()
    timing = change_timing(
        required=False,
        help_text="immediate (default): from effective_date, prorated; period_end: from the next period",
    )
    reason = reason_input(required=True)


class PlanChangeInput(StrictInput):
    from_product = product_field(help_text="the product whose quantity goes to 0")
    to_product = product_field(help_text="the product that takes over")
    quantity = quantity_input(help_text="the quantity of to_product")
    on = serializers.DateField()
    timing = change_timing(help_text="immediate: from `on`, both prorated; period_end: from the next period")
    reason = reason_input(required=True)


class PlanChangeOutput(serializers.Serializer):
    old = SubscriptionChangeOutput(help_text="from_product set to 0")
    new = SubscriptionChangeOutput(help_text="to_product from the same day")


class SubscriptionListCreateApi(ApiView):
    """A contract's subscription schedule (every change, by effective date), or change a quantity."""

    @extend_schema(operation_id="contract_subscriptions_list", responses=SubscriptionChangeOutput(many=True), tags=TAGS)
    def get(self, request, pk: int):
        schedule = (
            selectors.contract_get(pk=pk)
            .subscription_changes.select_related("product", "created_by")
            .order_by("effective_date", "pk")
        )
        return Response(SubscriptionChangeOutput(schedule, many=True).data)

    @extend_schema(
        operation_id="contract_subscriptions_create",
        request=SubscriptionChangeInput,
        responses={201: SubscriptionChangeOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        contract = selectors.contract_get(pk=pk)
        data = SubscriptionChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        change = services.subscription_change(
            contract=contract, actor=request.user, as_of=customer_now(contract.customer), **data.validated_data
        )
        return Response(SubscriptionChangeOutput(change).data, status=status.HTTP_201_CREATED)


class PlanChangeCreateApi(ApiView):
    """Upgrade or downgrade: one product's quantity goes to 0 as another's starts, on the same day."""

    @extend_schema(
        operation_id="contract_plan_changes_create",
        request=PlanChangeInput,
        responses={201: PlanChangeOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        contract = selectors.contract_get(pk=pk)
        data = PlanChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        old, new = services.plan_change(
            contract=contract, actor=request.user, as_of=customer_now(contract.customer), **data.validated_data
        )
        return Response(PlanChangeOutput({"old": old, "new": new}).data, status=status.HTTP_201_CREATED)
