"""A contract's terms in and out: price overrides, included usage, a minimum spend and a trial.

Contracts are created with terms and amended with terms, and every version of a contract holds a
whole set of them, so the shapes live here and `contracts` and `amendments` share them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from catalog.api.fields import DecimalString, decimal_output, quantity_input
from catalog.api.prices import PriceReplaceInput
from contracts.api.common import money_input, override_kind, product_field, product_output, username_output
from contracts.models import ContractVersion, IncludedUsage, PriceOverride, Trial
from contracts.services.contracts import OverrideSpec, Terms
from revops.api.serializers import StrictInput
from revops.errors import ValidationError


def _as_written(value: Any) -> Any:
    """Decimals without the padding DecimalString quantizes to ("0.020000000000" -> "0.02", "0E-12" -> "0")."""
    if isinstance(value, Decimal):
        return Decimal(format(value.normalize(), "f"))
    if isinstance(value, dict):
        return {key: _as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_written(item) for item in value]
    return value


class ContractPriceInput(PriceReplaceInput):
    """A whole replacement price, in the fields the catalog's price API takes. It is in the contract's
    currency, so it names none."""

    currency = None
    reason = None

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # Stored as JSON with its decimals as strings: keep them as people write them.
        return _as_written(super().to_internal_value(data))


class ContractOverrideInput(StrictInput):
    kind = override_kind(help_text="replace the price, multiply it, or take a percentage off")
    product = product_field(
        required=False, allow_null=True, default=None, help_text="the product's code; null: the whole card"
    )
    multiplier = DecimalString(
        max_digits=12, decimal_places=6, required=False, allow_null=True, help_text="multiplier: above 0"
    )
    discount_percent = DecimalString(
        max_digits=9, decimal_places=6, required=False, allow_null=True, help_text="discount: 25 means 25% off"
    )
    price = ContractPriceInput(required=False, allow_null=True, help_text="replace: the whole price")


class ContractIncludedUsageInput(StrictInput):
    product = product_field(help_text="a usage product's code")
    quantity = quantity_input(help_text="units included every period")


class ContractTrialInput(StrictInput):
    ends_on = serializers.DateField(help_text="exclusive: base fees are billed from this day")
    usage_billed = serializers.BooleanField(default=False, help_text="bill usage during the trial")


class ContractTermsInput(StrictInput):
    """Terms by kind. Creating a contract, a kind left out is none; amending, it carries over unchanged
    (an empty list removes every override or allowance, null removes the minimum spend or the trial)."""

    overrides = ContractOverrideInput(many=True, required=False, help_text="one per product (null: the whole card)")
    included_usage = ContractIncludedUsageInput(many=True, required=False, help_text="one per usage product")
    minimum_spend = money_input(
        required=False, allow_null=True, help_text="per period; a shortfall is billed as a true-up (null: none)"
    )
    trial = ContractTrialInput(required=False, allow_null=True, help_text="null: none")


def terms_from(data: dict[str, Any] | None) -> Terms:
    """The services' `Terms` from ContractTermsInput's validated data; kinds left out are None."""
    data = data or {}
    overrides = data.get("overrides")
    included = data.get("included_usage")
    trial = data.get("trial")
    return Terms(
        overrides=None
        if overrides is None
        else [
            OverrideSpec(
                kind=o["kind"],
                product=o.get("product"),
                multiplier=o.get("multiplier"),
                discount_percent=o.get("discount_percent"),
                price=o.get("price"),
            )
            for o in overrides
        ],
        included_usage=None if included is None else [(i["product"], i["quantity"]) for i in included],
        minimum_spend=data.get("minimum_spend"),
        trial=None if trial is None else (trial["ends_on"], trial["usage_billed"]),
        # Given as null: removed (amending; a new contract has nothing to remove, so it is simply none).
        remove_minimum="minimum_spend" in data and data["minimum_spend"] is None,
        remove_trial="trial" in data and data["trial"] is None,
    )


@contextlib.contextmanager
def terms_errors(prefix: str = "terms") -> Iterator[None]:
    """The services name a bad term by its place in the terms (`included_usage.1`); the API input nests the
    terms under `terms`, so the fields of an `invalid_terms` refusal are reported as `terms.included_usage.1`."""
    try:
        yield
    except ValidationError as exc:
        if exc.code != "invalid_terms":
            raise
        raise ValidationError(
            exc.message, code=exc.code, fields={f"{prefix}.{name}": messages for name, messages in exc.fields.items()}
        ) from None


class ContractOverrideOutput(serializers.ModelSerializer):
    kind = override_kind(read_only=True)
    product = product_output(allow_null=True, help_text="null: the whole card")
    multiplier = decimal_output(allow_null=True)
    discount_percent = decimal_output(allow_null=True)
    price = serializers.JSONField(allow_null=True, read_only=True, help_text="replace: the price, decimals as strings")

    class Meta:
        model = PriceOverride
        fields = ["kind", "product", "multiplier", "discount_percent", "price"]


class ContractIncludedUsageOutput(serializers.ModelSerializer):
    product = product_output()
    quantity = decimal_output()

    class Meta:
        model = IncludedUsage
        fields = ["product", "quantity"]


class ContractTrialOutput(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = ["ends_on", "usage_billed"]


class ContractTermsOutput(serializers.Serializer):
    """The whole set of terms a version holds."""

    overrides = ContractOverrideOutput(source="overrides.all", many=True)
    included_usage = ContractIncludedUsageOutput(source="included_usage.all", many=True)
    # A version holds at most one minimum and one trial; `first` is None when it holds none.
    minimum_spend = decimal_output(source="minimums.first.amount", allow_null=True)
    trial = ContractTrialOutput(source="trials.first", allow_null=True)


class ContractVersionSummaryOutput(serializers.ModelSerializer):
    created_by = username_output("created_by")

    class Meta:
        model = ContractVersion
        fields = ["number", "effective_from", "reason", "created_at", "created_by"]


class ContractVersionOutput(ContractVersionSummaryOutput):
    """A version of the contract's terms: in effect from `effective_from` until the next version's."""

    terms = ContractTermsOutput(source="*")

    class Meta(ContractVersionSummaryOutput.Meta):
        fields = [*ContractVersionSummaryOutput.Meta.fields, "terms"]
