"""Contract API: sign a customer to a rate card, list and read contracts (as they were on any day),
activate a draft, end a contract.

A contract is read as of a day: the version of its terms in effect then, its subscriptions then and
its balances with what they held at the end of that day. Without `as_of`, the day is today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog import selectors as catalog_selectors
from catalog.api.fields import IDEMPOTENCY, decimal_output, quantity_input, reason_input, referenced_as
from catalog.models import RateCard
from contracts import selectors
from contracts.api.balances import BalanceOutput
from contracts.api.common import cadence_field, contract_status, product_field, proration_field
from contracts.api.terms import (
    ContractTermsInput,
    ContractVersionOutput,
    ContractVersionSummaryOutput,
    terms_errors,
    terms_from,
)
from contracts.models import Contract, Customer
from contracts.selectors import ContractSnapshot
from contracts.services import contracts as services
from contracts.services.approvals import contract_create_propose
from contracts.services.clocks import customer_now
from revops import access
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.approvals.api import ApprovalRequestOutput, pending
from revops.approvals.models import ApprovalRequest

TAGS = ["contracts"]


class ContractOutput(serializers.ModelSerializer):
    customer = serializers.SlugRelatedField(slug_field="external_id", read_only=True)
    rate_card = serializers.SlugRelatedField(slug_field="code", read_only=True)
    pinned_version = serializers.IntegerField(
        source="pinned_version.number",
        allow_null=True,
        read_only=True,
        help_text="the rate card version it is grandfathered on; null: it follows the card",
    )
    cadence = cadence_field(read_only=True)
    status = contract_status(read_only=True)
    proration = proration_field(read_only=True)

    class Meta:
        model = Contract
        fields = [
            "id",
            "customer",
            "name",
            "rate_card",
            "pinned_version",
            "currency",
            "cadence",
            "billing_anchor",
            "start_date",
            "end_date",
            "status",
            "proration",
            "created_at",
        ]


class ContractSubscriptionOutput(serializers.Serializer):
    product = serializers.CharField(help_text="the product's code")
    quantity = decimal_output()


class ContractDetailOutput(ContractOutput):
    """The contract as it was on `as_of`."""

    as_of = serializers.DateField(read_only=True, help_text="the day the contract is read as of")
    terms = ContractVersionOutput(
        read_only=True, allow_null=True, help_text="the version in effect on as_of; null before the contract starts"
    )
    versions = ContractVersionSummaryOutput(many=True, read_only=True, help_text="every version, in order")
    subscriptions = ContractSubscriptionOutput(many=True, read_only=True, help_text="the quantities on as_of")
    balances = BalanceOutput(
        many=True, read_only=True, help_text="the balances started by as_of; remaining: what they held at its end"
    )

    class Meta(ContractOutput.Meta):
        fields = [*ContractOutput.Meta.fields, "as_of", "terms", "versions", "subscriptions", "balances"]


def _detail(snapshot: ContractSnapshot) -> dict[str, Any]:
    contract = snapshot.contract
    balances = []
    for balance, held in snapshot.balances:
        balance.remaining = held  # as of the snapshot's day, where BalanceOutput reads it
        balances.append(balance)
    shown = {name: getattr(contract, name) for name in ContractOutput.Meta.fields}
    return ContractDetailOutput(
        {
            **shown,
            "as_of": snapshot.day,
            "terms": snapshot.version,
            "versions": contract.versions.select_related("created_by").order_by("number"),
            "subscriptions": [{"product": code, "quantity": q} for code, q in sorted(snapshot.subscriptions.items())],
            "balances": balances,
        }
    ).data


class ContractSubscriptionInput(StrictInput):
    product = product_field(help_text="a subscription, recurring fee or one-time product's code")
    quantity = quantity_input()


class ContractCreateInput(StrictInput):
    customer = serializers.SlugRelatedField(
        slug_field="external_id",
        queryset=Customer.objects.all(),
        help_text="the customer's external id",
        error_messages={"does_not_exist": "no customer with external id {value!r}"},
    )
    rate_card = serializers.SlugRelatedField(
        slug_field="code",
        queryset=RateCard.objects.all(),
        help_text="the rate card's code; its currency must be the customer's",
        error_messages={"does_not_exist": "no rate card with code {value!r}"},
    )
    pinned_version = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="grandfather on this active version of the card; leave out to follow the card",
    )
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True, help_text="exclusive; leave out: open-ended")
    cadence = cadence_field(required=False, help_text="default monthly")
    billing_anchor = serializers.DateField(required=False, help_text="periods start on this day; default start_date")
    proration = proration_field(required=False, help_text="default next_invoice")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    terms = ContractTermsInput(required=False, help_text="the signed terms (version 1); kinds left out are none")
    subscriptions = ContractSubscriptionInput(many=True, required=False, help_text="from the start date")
    reason = reason_input(required=False)


class ContractEndInput(StrictInput):
    end_date = serializers.DateField(help_text="exclusive: the first day not covered")
    reason = reason_input(required=True)


class ContractActivateInput(StrictInput):
    reason = reason_input(required=False)


class ContractListCreateApi(ApiView):
    """List contracts (of one customer with `?customer=`), or sign one: a draft with its terms and
    starting subscriptions."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="contracts_list",
        parameters=[OpenApiParameter("customer", str, description="only this customer's (external id)")],
        responses=ContractOutput(many=True),
        tags=TAGS,
    )
    def get(self, request):
        contracts = Contract.objects.select_related("customer", "rate_card", "pinned_version").order_by("pk")
        contracts = access.visible_to(request, contracts, customer_field="customer")
        customer = request.query_params.get("customer")
        if customer:
            contracts = contracts.filter(customer__external_id=customer)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(contracts, request, view=self)
        return paginator.get_paginated_response(ContractOutput(page, many=True).data)

    @extend_schema(
        operation_id="contracts_create",
        request=ContractCreateInput,
        responses={201: ContractDetailOutput, 202: ApprovalRequestOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request):
        data = ContractCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        number = fields.pop("pinned_version", None)
        if number is not None:
            with referenced_as("pinned_version"):
                fields["pinned_version"] = catalog_selectors.version_get(rate_card=fields["rate_card"], number=number)
        subscriptions = [(s["product"], s["quantity"]) for s in fields.pop("subscriptions", [])]
        terms = terms_from(fields.pop("terms", None))
        reason = fields.pop("reason", "contract signed over the API")
        with terms_errors():
            contract = contract_create_propose(
                actor=request.user,
                terms=terms,
                subscriptions=subscriptions,
                reason=reason,
                as_of=customer_now(fields["customer"]),
                **fields,
            )
        if isinstance(contract, ApprovalRequest):  # a discount beyond policy: waits for an approver
            return pending(contract)
        # Shown as of its start: the signed terms and the starting subscriptions.
        return Response(
            _detail(selectors.contract_as_of(contract, contract.start_date)), status=status.HTTP_201_CREATED
        )


class ContractDetailQuery(serializers.Serializer):
    as_of = serializers.DateField(required=False)


class ContractDetailApi(ApiView):
    """Read a contract as it was on a day (default today): the terms in effect then, every version,
    the subscriptions then and the balances with what they held."""

    @extend_schema(
        operation_id="contracts_retrieve",
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE, description="YYYY-MM-DD; default today (UTC)")],
        responses=ContractDetailOutput,
        tags=TAGS,
    )
    def get(self, request, pk: int):
        contract = selectors.contract_get(pk=pk)
        query = ContractDetailQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        day: dt.date = query.validated_data.get("as_of") or customer_now(contract.customer).date()
        return Response(_detail(selectors.contract_as_of(contract, day)))


class ContractActivateApi(ApiView):
    """Activate a draft contract (409 `not_draft` otherwise)."""

    @extend_schema(
        operation_id="contracts_activate",
        request=ContractActivateInput,
        responses=ContractOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        contract = selectors.contract_get(pk=pk)
        data = ContractActivateInput(data=request.data)
        data.is_valid(raise_exception=True)
        contract = services.contract_activate(
            contract=contract,
            actor=request.user,
            reason=data.validated_data.get("reason", "contract activated over the API"),
        )
        return Response(ContractOutput(contract).data)


class ContractEndApi(ApiView):
    """End a contract on a date, with a reason (409 `already_ended` if it has ended)."""

    @extend_schema(
        operation_id="contracts_end",
        request=ContractEndInput,
        responses=ContractOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        contract = selectors.contract_get(pk=pk)
        data = ContractEndInput(data=request.data)
        data.is_valid(raise_exception=True)
        contract = services.contract_end(contract=contract, actor=request.user, **data.validated_data)
        return Response(ContractOutput(contract).data)
