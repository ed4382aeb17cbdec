"""Field shapes the contracts API shares, built on the catalog API's (`catalog.api.fields`)."""

from __future__ import annotations

from rest_framework import serializers

from catalog.api.fields import DecimalString, NamedChoiceField
from catalog.models import Product
from contracts.models import (
    BalanceKind,
    Cadence,
    ChangeTiming,
    ContractStatus,
    EntryKind,
    OverrideKind,
    ProrationTiming,
)


def product_field(**kwargs) -> serializers.SlugRelatedField:
    """A product named by its code; an unknown code is bad input naming the field."""
    kwargs.setdefault("help_text", "the product's code")
    return serializers.SlugRelatedField(
        slug_field="code",
        queryset=Product.objects.all(),
        error_messages={"does_not_exist": "no product with code {value!r}"},
        **kwargs,
    )


def product_output(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="code", read_only=True, **kwargs)


def money_input(**kwargs) -> DecimalString:
    """An amount (a balance, a minimum spend): up to 3 decimal places, as the database keeps amounts."""
    return DecimalString(max_digits=24, decimal_places=3, **kwargs)


def username_output(source: str, **kwargs) -> serializers.CharField:
    return serializers.CharField(source=f"{source}.username", allow_null=True, read_only=True, **kwargs)


# The contracts app's choice sets, each one named enum in the schema.


def contract_status(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="ContractStatus", choices=ContractStatus.choices, **kwargs)


def cadence_field(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="ContractCadence", choices=Cadence.choices, **kwargs)


def proration_field(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="ContractProration", choices=ProrationTiming.choices, **kwargs)


def override_kind(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="ContractOverrideKind", choices=OverrideKind.choices, **kwargs)


def change_timing(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="SubscriptionChangeTiming", choices=ChangeTiming.choices, **kwargs)


def balance_kind(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="BalanceKind", choices=BalanceKind.choices, **kwargs)


def entry_kind(**kwargs) -> NamedChoiceField:
    return NamedChoiceField(enum_name="LedgerEntryKind", choices=EntryKind.choices, **kwargs)
