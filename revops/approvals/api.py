"""Approvals over the API: the queue (filter by status, mine, to decide), one request, approve, reject, cancel.

    GET  /api/v1/approvals?status=pending&mine=true&to_decide=true
    GET  /api/v1/approvals/<id>
    POST /api/v1/approvals/<id>/approve   {"reason": "..."}   (optional)
    POST /api/v1/approvals/<id>/reject    {"reason": "..."}   (required)
    POST /api/v1/approvals/<id>/cancel    {"reason": "..."}   (the author only)
    GET  /api/v1/approval-policy, POST /api/v1/approval-policy  (a change is itself a request)

Deciding acts as the caller's user: an API key's user needs `revops.decide_approvalrequest` too.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from revops import clock
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.approvals import services
from revops.approvals.models import ApprovalDecision, ApprovalPolicy, ApprovalRequest, RequestStatus
from revops.approvals.policy import policy_get
from revops.approvals.policy_change import approval_policy_propose
from revops.errors import NotFound, ValidationError

TAGS = ["approvals"]


class ApprovalDecisionOutput(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")

    class Meta:
        model = ApprovalDecision
        fields = ["approver", "verdict", "reason", "at"]


class ApprovalRequestOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username")
    target_type = serializers.CharField(source="target_type.model", allow_null=True, default=None)
    diff = serializers.JSONField(help_text="[{item, field, before, after}]: what changes")
    impact = serializers.JSONField(
        help_text="{currency, rows: [{contract, customer, period_start, period_end, before, after, difference}], "
        "before, after, difference}: the money impact on the last complete period's usage"
    )
    payload = serializers.JSONField()
    decisions = ApprovalDecisionOutput(many=True, read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "kind",
            "status",
            "target_type",
            "target_id",
            "target_label",
            "payload",
            "diff",
            "impact",
            "approvers_required",
            "escalation",
            "author",
            "reason",
            "effective_date",
            "created_at",
            "decided_at",
            "applied_at",
            "outcome",
            "decisions",
        ]


class ApprovalListFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=RequestStatus.choices, required=False)
    mine = serializers.BooleanField(required=False, help_text="only the requests I made")
    to_decide = serializers.BooleanField(required=False, help_text="only pending ones I may still decide")


class ApprovalDecideInput(StrictInput):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ApprovalRejectInput(StrictInput):
    reason = serializers.CharField(max_length=2000, help_text="required: the author is told why")


class ApprovalPolicyOutput(serializers.ModelSerializer):
    class Meta:
        model = ApprovalPolicy
        fields = [
            "max_discount_percent",
            "credit_grant_thresholds",
            "void_thresholds",
            "migration_needs_approval",
            "approvers_required",
            "max_price_change_percent",
            "guardrail_mode",
            "updated_at",
        ]


class ApprovalPolicyChangeInput(StrictInput):
    values = serializers.JSONField(help_text='the settings to change, as in the policy: {"void_thresholds": {...}}')
    reason = serializers.CharField(max_length=2000)


def _requests() -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.select_related("author", "target_type").prefetch_related("decisions__approver")


def _get(pk: int) -> ApprovalRequest:
    found = _requests().filter(pk=pk).first()
    if found is None:
        raise NotFound(f"no approval request {pk}", code="approval_request_not_found")
    return found


class ApprovalListApi(ApiView):
    """The approval queue: every request, newest first, filtered by status, mine, or waiting for my decision."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="approvals_list",
        parameters=[ApprovalListFilter],
        responses=ApprovalRequestOutput(many=True),
        tags=TAGS,
    )
    def get(self, request):
        filters = ApprovalListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        found = _requests()
        if "status" in wanted:
            found = found.filter(status=wanted["status"])
        if wanted.get("mine"):
            found = found.filter(author=request.user)
        if wanted.get("to_decide"):
            found = found.filter(status=RequestStatus.PENDING).exclude(
                Q(author=request.user) | Q(decisions__approver=request.user)
            )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(found.order_by("-created_at", "-pk"), request, view=self)
        return paginator.get_paginated_response(ApprovalRequestOutput(page, many=True).data)


class ApprovalDetailApi(ApiView):
    """One request with its diff, money impact and decisions."""

    @extend_schema(operation_id="approvals_retrieve", responses=ApprovalRequestOutput, tags=TAGS)
    def get(self, request, pk: int):
        return Response(ApprovalRequestOutput(_get(pk)).data)


class ApprovalApproveApi(ApiView):
    """Approve (never your own request); with enough approvals the change is applied on its effective date."""

    @extend_schema(
        operation_id="approvals_approve", request=ApprovalDecideInput, responses=ApprovalRequestOutput, tags=TAGS
    )
    def post(self, request, pk: int):
        data = ApprovalDecideInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.request_approve(
            request=_get(pk), actor=request.user, as_of=clock.now(), reason=data.validated_data.get("reason", "")
        )
        return Response(ApprovalRequestOutput(_get(pk)).data)


class ApprovalRejectApi(ApiView):
    """Reject, with a reason the author is told."""

    @extend_schema(
        operation_id="approvals_reject", request=ApprovalRejectInput, responses=ApprovalRequestOutput, tags=TAGS
    )
    def post(self, request, pk: int):
        data = ApprovalRejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.request_reject(
            request=_get(pk), actor=request.user, reason=data.validated_data["reason"], as_of=clock.now()
        )
        return Response(ApprovalRequestOutput(_get(pk)).data)


class ApprovalCancelApi(ApiView):
    """The author withdraws a request that is not applied yet."""

    @extend_schema(
        operation_id="approvals_cancel", request=ApprovalDecideInput, responses=ApprovalRequestOutput, tags=TAGS
    )
    def post(self, request, pk: int):
        data = ApprovalDecideInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.request_cancel(
            request=_get(pk), actor=request.user, as_of=clock.now(), reason=data.validated_data.get("reason", "")
        )
        return Response(ApprovalRequestOutput(_get(pk)).data)


class ApprovalPolicyApi(ApiView):
    """Read the approval policy, or ask for a change to it (which needs approval like any other)."""

    @extend_schema(operation_id="approval_policy_retrieve", responses=ApprovalPolicyOutput, tags=TAGS)
    def get(self, request):
        return Response(ApprovalPolicyOutput(policy_get()).data)

    @extend_schema(
        operation_id="approval_policy_change",
        request=ApprovalPolicyChangeInput,
        responses={202: ApprovalRequestOutput},
        tags=TAGS,
    )
    def post(self, request):
        data = ApprovalPolicyChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data["values"]
        if not isinstance(values, dict):
            raise ValidationError("give the settings to change as an object", field="values")
        asked = approval_policy_propose(
            values=values, actor=request.user, reason=data.validated_data["reason"], as_of=clock.now()
        )
        return pending(asked)


def pending(asked: ApprovalRequest) -> Response:
    """The answer to a change that now waits for approval: 202 with the request."""
    return Response(ApprovalRequestOutput(_get(asked.pk)).data, status=status.HTTP_202_ACCEPTED)
