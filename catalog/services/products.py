"""Products: what we sell, and how it is billed."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from catalog.models import BillableMetric, BillingTiming, Product, ProductKind
from catalog.services.metrics import _check_code
from revops.errors import ValidationError
from revops.history import stamp

EDITABLE = ("name", "description", "unit_label", "product_line", "is_active", "price_floor")


def product_check(*, kind: str, metric: BillableMetric | None, billing_timing: str) -> None:
    errors: dict[str, list[str]] = {}
    if kind not in ProductKind.values:
        errors["kind"] = [f"unknown kind {kind!r}; use one of {', '.join(ProductKind.values)}"]
    if billing_timing not in BillingTiming.values:
        errors["billing_timing"] = [f"use one of {', '.join(BillingTiming.values)}"]
    if kind == ProductKind.USAGE:
        if metric is None:
            errors["metric"] = ["a usage product is priced from a metric: name one"]
        if billing_timing == BillingTiming.IN_ADVANCE:
            errors.setdefault("billing_timing", []).append("usage is billed in arrears, once it has happened")
    elif metric is not None:
        errors["metric"] = ["only usage products take a metric"]
    if kind == ProductKind.ONE_TIME and billing_timing != BillingTiming.IN_ADVANCE:
        errors.setdefault("billing_timing", []).append("a one-time charge is billed in advance")
    if errors:
        raise ValidationError("the product is invalid", fields=errors)


@transaction.atomic
def product_create(
    *,
    code: str,
    name: str,
    kind: str,
    actor: AbstractBaseUser | None,
    metric: BillableMetric | None = None,
    billing_timing: str | None = None,
    description: str = "",
    unit_label: str = "",
    product_line: str = "",
    reason: str = "product created",
) -> Product:
    if billing_timing is None:  # the usual timing for the kind
        billing_timing = BillingTiming.IN_ARREARS if kind == ProductKind.USAGE else BillingTiming.IN_ADVANCE
    product_check(kind=kind, metric=metric, billing_timing=billing_timing)
    _check_code(code, Product)
    if not name.strip():
        raise ValidationError("a product needs a name", field="name")
    product = Product(
        code=code,
        name=name.strip(),
        kind=kind,
        metric=metric,
        billing_timing=billing_timing,
        description=description,
        unit_label=unit_label or (metric.unit_label if metric else ""),
        product_line=product_line,
    )
    stamp(product, actor=actor, reason=reason)
    product.save()
    return product


@transaction.atomic
def product_update(*, product: Product, actor: AbstractBaseUser | None, reason: str, **changes: Any) -> Product:
    """Descriptive fields only: kind, metric and timing shape invoices already issued, so they never change."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(
            f"these fields cannot be changed: {', '.join(sorted(unknown))} (create a new product instead)",
            code="not_editable",
        )
    if "name" in changes and not str(changes["name"]).strip():
        raise ValidationError("a product needs a name", field="name")
    if changes.get("price_floor") is not None and changes["price_floor"] < 0:
        raise ValidationError("a price floor cannot be negative", field="price_floor")
    product = Product.objects.select_for_update().get(pk=product.pk)
    for name, value in changes.items():
        setattr(product, name, value)
    stamp(product, actor=actor, reason=reason)
    product.save()
    return product
