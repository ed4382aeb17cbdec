"""Amendment API: a contract's versions of its terms, and new ones from a later date.

An amendment is a new version holding the whole set of terms from its effective date: the kinds it
names replace those in effect, the others carry over, and every earlier version stays as it was.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog.api.fields import IDEMPOTENCY, reason_input
from contracts import selectors
from contracts.api.terms import ContractTermsInput, ContractVersionOutput, terms_errors, terms_from
from contracts.services.approvals import contract_amend_propose
from contracts.services.clocks import customer_now
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.approvals.api import ApprovalRequestOutput, pending
from revops.approvals.models import ApprovalRequest

TAGS = ["contracts"]


class ContractAmendInput(StrictInput):
    effective_from = serializers.DateField(help_text="after the latest version's, before the contract ends")
    reason = reason_input(required=True)
    terms = ContractTermsInput(help_text="the kinds that change; those left out carry over unchanged")


class ContractAmendmentListCreateApi(ApiView):
    """A contract's versions with their terms (1 is the signed contract), or amend it from a later date."""

    @extend_schema(operation_id="contract_amendments_list", responses=ContractVersionOutput(many=True), tags=TAGS)
    def get(self, request, pk: int):
        versions = selectors.contract_get(pk=pk).versions.select_related("created_by").order_by("number")
        return Response(ContractVersionOutput(versions, many=True).data)

    @extend_schema(
        operation_id="contract_amendments_create",
        request=ContractAmendInput,
        responses={201: ContractVersionOutput, 202: ApprovalRequestOutput},
        parameters=[IDEMPOTENCY],
        tags=TAGS,
    )
    def post(self, request, pk: int):
        contract = selectors.contract_get(pk=pk)
        data = ContractAmendInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        with terms_errors():
            version = contract_amend_propose(
                contract=contract,
                effective_from=fields["effective_from"],
                reason=fields["reason"],
                terms=terms_from(fields["terms"]),
                actor=request.user,
                as_of=customer_now(contract.customer),
            )
        if isinstance(version, ApprovalRequest):  # a discount beyond policy: waits for an approver
            return pending(version)
        return Response(ContractVersionOutput(version).data, status=status.HTTP_201_CREATED)
