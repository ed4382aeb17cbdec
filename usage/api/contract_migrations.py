"""Move contracts to another rate card version, after previewing each one's price on its last period's usage."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from catalog.api.fields import amount_output, reason_input
from catalog.selectors import rate_card_get, version_get
from contracts.models import Contract
from contracts.services.approvals import contract_migrate_propose
from contracts.services.migrations import contract_migration_preview
from revops import clock
from revops.api.serializers import StrictInput
from revops.api.views import ApiView
from revops.approvals.api import ApprovalRequestOutput, pending
from revops.approvals.models import ApprovalRequest
from revops.errors import ValidationError
from usage.selectors import contract_usage_quantities


class ContractMigrationPreviewInput(StrictInput):
    contracts = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=500)
    rate_card = serializers.CharField(help_text="code of the card to move to")
    version = serializers.IntegerField(min_value=1, help_text="its version number (must be active)")


class ContractMigrationInput(ContractMigrationPreviewInput):
    reason = reason_input(required=True)


class ContractImpactOutput(serializers.Serializer):
    contract = serializers.IntegerField()
    customer = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    before = amount_output()
    after = amount_output()
    difference = amount_output()
    percent = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)


class ContractMigrationPreviewOutput(serializers.Serializer):
    currency = serializers.CharField()
    impacts = ContractImpactOutput(many=True)
    before = amount_output()
    after = amount_output()


class ContractMigrationOutput(serializers.Serializer):
    moved = serializers.ListField(child=serializers.IntegerField())
    rate_card = serializers.CharField()
    version = serializers.IntegerField()


def _target_and_contracts(data) -> tuple:
    version = version_get(rate_card=rate_card_get(code=data["rate_card"]), number=data["version"])
    ids = list(dict.fromkeys(data["contracts"]))
    contracts = list(Contract.objects.select_related("customer", "rate_card").filter(pk__in=ids).order_by("pk"))
    missing = sorted(set(ids) - {c.pk for c in contracts})
    if missing:
        raise ValidationError(
            f"no contract {', '.join(map(str, missing))}", code="contract_not_found", field="contracts"
        )
    return version, contracts


class ContractMigrationPreviewApi(ApiView):
    """What each contract's last complete period would have cost on the target version, beside what it cost.

    Nothing changes. Priced on that period's real usage, with each contract's own terms.
    """

    required_scope = "read"

    @extend_schema(
        operation_id="contract_migrations_preview",
        request=ContractMigrationPreviewInput,
        responses=ContractMigrationPreviewOutput,
        tags=["contracts"],
    )
    def post(self, request):
        data = ContractMigrationPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        version, contracts = _target_and_contracts(data.validated_data)
        impacts = contract_migration_preview(
            contracts=contracts, to_version=version, today=clock.today(), usage_for=contract_usage_quantities
        )
        return Response(
            ContractMigrationPreviewOutput(
                {
                    "currency": version.rate_card.currency,
                    "impacts": [
                        {
                            "contract": i.contract.pk,
                            "customer": i.contract.customer.external_id,
                            "period_start": i.period.start,
                            "period_end": i.period.end,
                            "before": i.before,
                            "after": i.after,
                            "difference": i.difference,
                            "percent": i.percent,
                        }
                        for i in impacts
                    ],
                    "before": sum((i.before for i in impacts), 0),
                    "after": sum((i.after for i in impacts), 0),
                }
            ).data
        )


class ContractMigrationApi(ApiView):
    """Pin every listed contract to the target version, all or none, with the reason in each one's history."""

    @extend_schema(
        operation_id="contract_migrations_apply",
        request=ContractMigrationInput,
        responses={200: ContractMigrationOutput, 202: ApprovalRequestOutput},
        tags=["contracts"],
    )
    def post(self, request):
        data = ContractMigrationInput(data=request.data)
        data.is_valid(raise_exception=True)
        version, contracts = _target_and_contracts(data.validated_data)
        moved = contract_migrate_propose(
            contracts=contracts,
            to_version=version,
            actor=request.user,
            reason=data.validated_data["reason"],
            as_of=clock.now(),
        )
        if isinstance(moved, ApprovalRequest):  # the policy has bulk migrations approved first
            return pending(moved)
        return Response(
            ContractMigrationOutput(
                {"moved": [c.pk for c in moved], "rate_card": version.rate_card.code, "version": version.number}
            ).data
        )
