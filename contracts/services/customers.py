"""Writes with business rules for customers and contracts. Every service takes `actor` and records why."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from contracts.models import Customer, CustomerAlias, TestClock, external_id_validator
from contracts.tax_fields import TAX_FIELDS, tax_field_problems
from revops.errors import ValidationError
from revops.history import stamp
from revops.money import CurrencyError, validate_currency

_EDITABLE = ("name", "billing_email", "billing_address", "tax_id", "timezone", "metadata", *TAX_FIELDS)


def customer_clean_fields(fields: dict[str, Any], *, current: Customer | None = None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if current is not None and ("tax_exempt" in fields or "tax_exempt_reason" in fields):
        # An exemption and its reason are checked together, as they will be stored.
        fields.setdefault("tax_exempt", current.tax_exempt)
        fields.setdefault("tax_exempt_reason", current.tax_exempt_reason)
    if "currency" in fields:
        try:
            fields["currency"] = validate_currency(fields["currency"])
        except CurrencyError as exc:
            errors["currency"] = [str(exc)]
    if "timezone" in fields:
        try:
            zoneinfo.ZoneInfo(fields["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = [f"{fields['timezone']!r} is not an IANA timezone (e.g. Europe/Berlin)"]
    if "external_id" in fields:
        try:
            external_id_validator(fields["external_id"])
        except DjangoValidationError as exc:
            errors["external_id"] = list(exc.messages)
    if "name" in fields and not str(fields["name"]).strip():
        errors["name"] = ["a customer needs a name"]
    if "metadata" in fields and not isinstance(fields["metadata"], dict):
        errors["metadata"] = ["metadata must be a JSON object"]
    errors.update(tax_field_problems(fields))
    if errors:
        raise ValidationError("the customer has invalid fields", fields=errors)
    return fields


@transaction.atomic
def customer_create(
    *,
    external_id: str,
    name: str,
    currency: str,
    actor: AbstractBaseUser | None,
    reason: str = "customer created",
    test_clock: TestClock | None = None,
    **optional: Any,
) -> Customer:
    unknown = set(optional) - set(_EDITABLE)
    if unknown:
        raise ValidationError(f"unknown customer field(s): {', '.join(sorted(unknown))}")
    fields = customer_clean_fields({"external_id": external_id, "name": name, "currency": currency, **optional})
    if (
        Customer.objects.filter(external_id=fields["external_id"]).exists()
        or CustomerAlias.objects.filter(alias=fields["external_id"]).exists()
    ):
        raise ValidationError(
            f"a customer with external id {external_id!r} already exists",
            code="duplicate",
            field="external_id",
        )
    customer = Customer(**fields, test_clock=test_clock)
    stamp(customer, actor=actor, reason=reason)
    customer.save()
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: AbstractBaseUser | None, reason: str, **changes: Any) -> Customer:
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise ValidationError(
            f"these customer fields cannot be changed here: {', '.join(sorted(unknown))}", code="not_editable"
        )
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changes = customer_clean_fields(changes, current=customer)
    for name, value in changes.items():
        setattr(customer, name, value)
    stamp(customer, actor=actor, reason=reason)
    customer.save()
    return customer


@transaction.atomic
def customer_alias_add(*, customer: Customer, alias: str, actor: AbstractBaseUser | None) -> CustomerAlias:
    """Let usage events name the customer by `alias` too. Aliases and external ids share one namespace."""
    try:
        external_id_validator(alias)
    except DjangoValidationError as exc:
        raise ValidationError(exc.messages[0], field="alias") from None
    if Customer.objects.filter(external_id=alias).exists():
        raise ValidationError(f"{alias!r} is a customer's external id", code="duplicate", field="alias")
    existing = CustomerAlias.objects.filter(alias=alias).select_related("customer").first()
    if existing is not None:
        owner = "this customer" if existing.customer_id == customer.pk else existing.customer.external_id
        raise ValidationError(f"{alias!r} is already an alias of {owner}", code="duplicate", field="alias")
    created = CustomerAlias(customer=customer, alias=alias)
    stamp(created, actor=actor, reason="alias added")
    created.save()
    return created


@transaction.atomic
def customer_alias_remove(*, alias: CustomerAlias, actor: AbstractBaseUser | None) -> None:
    stamp(alias, actor=actor, reason="alias removed")
    alias.delete()
