"""Rate card API: cards, their versions (drafts, changes, activation)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from catalog import selectors
from catalog.api.fields import IDEMPOTENCY, NamedChoiceField, reason_input, referenced_as
from catalog.api.prices import PriceOutput
from catalog.models import RateCard, RateCardVersion, VersionStatus
from catalog.services import approvals as approval_services
from catalog.services import rate_cards as services
from revops import clock
from revops.api.pagination import Pagination
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.approvals.api import ApprovalRequestOutput, pending


def _status() -> NamedChoiceField:
    return NamedChoiceField(enum_name="RateCardVersionStatus", choices=VersionStatus.choices, read_only=True)


class RateCardVersionSummaryOutput(serializers.ModelSerializer):
    status = _status()

    class Meta:
        model = RateCardVersion
        fields = ["number", "status", "effective_from", "activated_at"]


class RateCardOutput(serializers.ModelSerializer):
    class Meta:
        model = RateCard
        fields = ["code", "name", "description", "currency", "created_at"]


class RateCardDetailOutput(serializers.ModelSerializer):
    versions = RateCardVersionSummaryOutput(many=True, read_only=True)

    class Meta:
        model = RateCard
        fields = ["code", "name", "description", "currency", "created_at", "versions"]


class RateCardCreateInput(StrictInput):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    currency = serializers.CharField(max_length=3, help_text="ISO 4217; every price of the card is in it")
    description = serializers.CharField(required=False, allow_blank=True)
    reason = reason_input(required=False)


class RateCardVersionOutput(serializers.ModelSerializer):
    rate_card = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = _status()
    based_on = serializers.IntegerField(
        source="based_on.number", allow_null=True, read_only=True, help_text="the version it started as a copy of"
    )
    activated_by = serializers.CharField(source="activated_by.username", allow_null=True, read_only=True)

    class Meta:
        model = RateCardVersion
        fields = [
            "rate_card",
            "number",
            "status",
            "effective_from",
            "notes",
            "based_on",
            "created_at",
            "activated_at",
            "activated_by",
        ]


class RateCardVersionDetailOutput(RateCardVersionOutput):
    currency = serializers.CharField(source="rate_card.currency", read_only=True)
    prices = PriceOutput(many=True, read_only=True)

    class Meta(RateCardVersionOutput.Meta):
        fields = [*RateCardVersionOutput.Meta.fields, "currency", "prices"]


class RateCardVersionCreateInput(StrictInput):
    effective_from = serializers.DateField(help_text="prices periods starting on or after this date")
    notes = serializers.CharField(required=False, allow_blank=True)
    based_on = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="the version number to copy (default: the latest)"
    )
    copy_prices = serializers.BooleanField(default=True, help_text="start with the prices of based_on")
    reason = reason_input(required=False)


class RateCardVersionUpdateInput(StrictInput):
    effective_from = serializers.DateField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    reason = reason_input(required=True)


class RateCardVersionActivateInput(StrictInput):
    reason = reason_input(required=False)
    effective_date = serializers.DateField(
        required=False, help_text="when the approved activation runs (default: as soon as it is approved)"
    )


class RateCardVersionRollbackInput(StrictInput):
    effective_from = serializers.DateField(help_text="the restored prices apply to periods starting on this date")
    reason = reason_input(required=True)


class RateCardListCreateApi(ApiView):
    """List rate cards, or create one (its prices come in versions)."""

    pagination_class = Pagination

    @extend_schema(operation_id="rate_cards_list", responses=RateCardOutput(many=True), tags=["rate-cards"])
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(RateCard.objects.order_by("code"), request, view=self)
        return paginator.get_paginated_response(RateCardOutput(page, many=True).data)

    @extend_schema(
        operation_id="rate_cards_create",
        request=RateCardCreateInput,
        responses={201: RateCardDetailOutput},
        parameters=[IDEMPOTENCY],
        tags=["rate-cards"],
    )
    def post(self, request):
        data = RateCardCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason", "rate card created over the API")
        card = services.rate_card_create(actor=request.user, reason=reason, **fields)
        return Response(RateCardDetailOutput(card).data, status=status.HTTP_201_CREATED)


class RateCardDetailApi(ApiView):
    """Read a rate card with a summary of its versions."""

    @extend_schema(operation_id="rate_cards_retrieve", responses=RateCardDetailOutput, tags=["rate-cards"])
    def get(self, request, code: str):
        return Response(RateCardDetailOutput(selectors.rate_card_get(code=code)).data)


class RateCardVersionListCreateApi(ApiView):
    """List a rate card's versions, or start a draft (by default a copy of the latest version's prices)."""

    pagination_class = Pagination

    @extend_schema(
        operation_id="rate_card_versions_list", responses=RateCardVersionOutput(many=True), tags=["rate-cards"]
    )
    def get(self, request, code: str):
        versions = RateCardVersion.objects.filter(rate_card=selectors.rate_card_get(code=code))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            versions.select_related("rate_card", "based_on", "activated_by").order_by("number"), request, view=self
        )
        return paginator.get_paginated_response(RateCardVersionOutput(page, many=True).data)

    @extend_schema(
        operation_id="rate_card_versions_create",
        request=RateCardVersionCreateInput,
        responses={201: RateCardVersionDetailOutput},
        parameters=[IDEMPOTENCY],
        tags=["rate-cards"],
    )
    def post(self, request, code: str):
        card = selectors.rate_card_get(code=code)
        data = RateCardVersionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason", "draft version created over the API")
        based_on = fields.pop("based_on", None)
        if based_on is not None:
            with referenced_as("based_on"):
                fields["based_on"] = selectors.version_get(rate_card=card, number=based_on)
        version = services.rate_card_version_create(rate_card=card, actor=request.user, reason=reason, **fields)
        return Response(RateCardVersionDetailOutput(version).data, status=status.HTTP_201_CREATED)


class RateCardVersionDetailApi(ApiView):
    """Read a version with its prices and tiers, or change a draft's date or notes (with a reason)."""

    @extend_schema(
        operation_id="rate_card_versions_retrieve", responses=RateCardVersionDetailOutput, tags=["rate-cards"]
    )
    def get(self, request, code: str, number: int):
        version = selectors.version_get(rate_card=selectors.rate_card_get(code=code), number=number)
        return Response(RateCardVersionDetailOutput(version).data)

    @extend_schema(
        operation_id="rate_card_versions_update",
        request=RateCardVersionUpdateInput,
        responses=RateCardVersionDetailOutput,
        parameters=[IDEMPOTENCY],
        tags=["rate-cards"],
    )
    def patch(self, request, code: str, number: int):
        version = selectors.version_get(rate_card=selectors.rate_card_get(code=code), number=number)
        data = RateCardVersionUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason")
        version = services.rate_card_version_update(version=version, actor=request.user, reason=reason, **fields)
        return Response(RateCardVersionDetailOutput(version).data)


class RateCardVersionActivateApi(ApiView):
    """Ask for a draft's activation (202: the approval request, with its price diff and money impact). Once
    approved by someone else it takes effect from its date and is frozen (409 if it is already active)."""

    @extend_schema(
        operation_id="rate_card_versions_activate",
        request=RateCardVersionActivateInput,
        responses={202: ApprovalRequestOutput},
        parameters=[IDEMPOTENCY],
        tags=["rate-cards"],
    )
    def post(self, request, code: str, number: int):
        version = selectors.version_get(rate_card=selectors.rate_card_get(code=code), number=number)
        data = RateCardVersionActivateInput(data=request.data)
        data.is_valid(raise_exception=True)
        asked = approval_services.rate_card_version_activation_propose(
            version=version,
            actor=request.user,
            as_of=clock.now(),
            reason=data.validated_data.get("reason", "version activation asked over the API"),
            effective_date=data.validated_data.get("effective_date"),
        )
        return pending(asked)


class RateCardVersionRollbackApi(ApiView):
    """Restore this (active) version's prices: a new draft copied from it, whose activation awaits approval."""

    @extend_schema(
        operation_id="rate_card_versions_rollback",
        request=RateCardVersionRollbackInput,
        responses={202: ApprovalRequestOutput},
        parameters=[IDEMPOTENCY],
        tags=["rate-cards"],
    )
    def post(self, request, code: str, number: int):
        version = selectors.version_get(rate_card=selectors.rate_card_get(code=code), number=number)
        data = RateCardVersionRollbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        asked = approval_services.rate_card_version_rollback(
            version=version, actor=request.user, as_of=clock.now(), **data.validated_data
        )
        return pending(asked)
