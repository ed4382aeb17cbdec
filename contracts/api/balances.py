"""Balance API: a contract's prepaid commitments and credit grants, their ledgers, adjustments and voids.

What a balance holds is the sum of its ledger; every output shows it as `remaining`. Movements are
made as of the customer's now (its test clock's time, if it has one).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog.api.fields import IDEMPOTENCY, DecimalString, decimal_output, reason_input
from contracts import selectors
from contracts.api.common import balance_kind, entry_kind, money_input, product_field, product_output, username_output
from contracts.models import Balance, LedgerEntry
from contracts.services import balances as services
from contracts.services.approvals import balance_grant_propose
from contracts.services.clocks import customer_now
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.approvals.api import ApprovalRequestOutput, pending
from revops.approvals.models import ApprovalRequest
from revops.errors import NotFound

TAGS = ["balances"]


class BalanceOutput(serializers.ModelSerializer):
    kind = balance_kind(read_only=True)
    amount = decimal_output(help_text="granted or committed")
    remaining = decimal_output(read_only=True, help_text="what is left: the sum of the ledger")
    product = product_output(allow_null=True, help_text="credits only: the product it pays for")
    rollover_fraction = decimal_output()

    class Meta:
        model = Balance
        fields = [
            "id",
            "kind",
            "name",
            "amount",
            "remaining",
            "starts_on",
            "expires_on",
            "priority",
            "product",
            "rollover_fraction",
            "reason",
            "created_at",
        ]


class LedgerEntryOutput(serializers.ModelSerializer):
    kind = entry_kind(read_only=True)
    amount = decimal_output(help_text="grants and rollovers in are positive, the rest negative")
    created_by = username_output("created_by")

    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "effective_at", "memo", "reference", "created_at", "created_by"]


class BalanceMovementOutput(serializers.Serializer):
    entry = LedgerEntryOutput(help_text="the ledger entry the movement made")
    balance = BalanceOutput(help_text="the balance after it")


class BalanceCreateInput(StrictInput):
    kind = balance_kind(help_text="commit: prepaid, draws for everything; credit: a grant, may name a product")
    amount = money_input()
    starts_on = serializers.DateField()
    expires_on = serializers.DateField(help_text="exclusive: usable before this day")
    priority = serializers.IntegerField(
        required=False, min_value=0, max_value=2_147_483_647, help_text="lower is drawn first (default 100)"
    )
    product = product_field(required=False, allow_null=True, help_text="credits only: the product's code")
    rollover_fraction = DecimalString(
        max_digits=7, decimal_places=6, required=False, help_text="commits: the share of what is left that rolls over"
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    reason = reason_input(required=True)


class BalanceAdjustInput(StrictInput):
    amount = money_input(help_text="positive adds, negative takes away (never below zero)")
    reason = reason_input(required=True)


class BalanceVoidInput(StrictInput):
    reason = reason_input(required=True)


def _with_remaining(balances: QuerySet[Balance]) -> QuerySet[Balance]:
    """Each balance with what remains of it (the sum of its ledger), soonest expiry first."""
    held = Coalesce(Sum("entries__amount"), Value(Decimal(0)), output_field=DecimalField())
    return balances.select_related("product").annotate(remaining=held).order_by("expires_on", "priority", "pk")


def _balance_of(pk: int, balance_id: int) -> Balance:
    contract = selectors.contract_get(pk=pk)
    balance = _with_remaining(contract.balances.filter(pk=balance_id)).first()
    if balance is None:
        raise NotFound(f"contract {pk} has no balance {balance_id}", code="balance_not_found")
    return balance


def _movement(entry: LedgerEntry) -> dict:
    balance = _with_remaining(Balance.objects.filter(pk=entry.balance_id)).get()
    return BalanceMovementOutput({"entry": entry, "balance": balance}).data


class BalanceListCreateApi(ApiView):
    """A contract's commitments and credits with what remains of each, or grant one (with a reason)."""

    @extend_schema(operation_id="contract_balances_list", responses=BalanceOutput(many=True), tags=TAGS)
    def get(self, request, pk: int):
        balances = _with_remaining(selectors.contract_get(pk=pk).balances.all())
        return Response(BalanceOutput(balances, many=True).data)

    @extend_schema(
        operation_id="contract_balances_create",
        request=BalanceCreateInput,
        responses={201: BalanceOutput, 202: ApprovalRequestOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        contract = selectors.contract_get(pk=pk)
        data = BalanceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        balance = balance_grant_propose(
            contract=contract, as_of=customer_now(contract.customer), actor=request.user, **fields
        )
        if isinstance(balance, ApprovalRequest):  # a credit above the threshold: waits for an approver
            return pending(balance)
        created = _with_remaining(Balance.objects.filter(pk=balance.pk)).get()
        return Response(BalanceOutput(created).data, status=status.HTTP_201_CREATED)


class BalanceEntryListApi(ApiView):
    """A balance's ledger, oldest first: its grant and every movement since."""

    pagination_class = Pagination

    @extend_schema(operation_id="contract_balance_entries_list", responses=LedgerEntryOutput(many=True), tags=TAGS)
    def get(self, request, pk: int, balance_id: int):
        balance = _balance_of(pk, balance_id)
        entries = balance.entries.select_related("created_by").order_by("effective_at", "pk")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(LedgerEntryOutput(page, many=True).data)


class BalanceAdjustApi(ApiView):
    """Correct a balance by hand, up or down, with a reason; it never goes below zero."""

    @extend_schema(
        operation_id="contract_balances_adjust",
        request=BalanceAdjustInput,
        responses=BalanceMovementOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int, balance_id: int):
        balance = _balance_of(pk, balance_id)
        data = BalanceAdjustInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.balance_adjust(
            balance=balance, as_of=customer_now(balance.contract.customer), actor=request.user, **data.validated_data
        )
        return Response(_movement(entry))


class BalanceVoidApi(ApiView):
    """Cancel what is left of a balance (e.g. granted by mistake), with a reason; what was drawn stays drawn."""

    @extend_schema(
        operation_id="contract_balances_void",
        request=BalanceVoidInput,
        responses=BalanceMovementOutput,
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int, balance_id: int):
        balance = _balance_of(pk, balance_id)
        data = BalanceVoidInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = services.balance_void(
            balance=balance, as_of=customer_now(balance.contract.customer), actor=request.user, **data.validated_data
        )
        return Response(_movement(entry))
