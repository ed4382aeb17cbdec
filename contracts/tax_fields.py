"""A customer's tax fields, checked together: region, exemption (with its reason), customer-specific rate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contracts.regions import region_problem

TAX_FIELDS = ("tax_region", "tax_exempt", "tax_exempt_reason", "tax_rate_percent")
RATE_PLACES = Decimal("0.0001")


def rate_percent_problem(value: Any) -> str | None:
    if not isinstance(value, Decimal) or not value.is_finite():
        return "a rate is a decimal percentage, such as 8.25"
    if value < 0 or value > 100:
        return "a tax rate is a percentage from 0 to 100"
    if value != value.quantize(RATE_PLACES):
        return "a tax rate has at most 4 decimal places"
    return None


def tax_field_problems(fields: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if fields.get("tax_region"):
        problem = region_problem(fields["tax_region"])
        if problem:
            errors["tax_region"] = [problem]
    if fields.get("tax_rate_percent") is not None:
        problem = rate_percent_problem(fields["tax_rate_percent"])
        if problem:
            errors["tax_rate_percent"] = [problem]
    if fields.get("tax_exempt") and not str(fields.get("tax_exempt_reason") or "").strip():
        errors["tax_exempt_reason"] = ["a tax exemption needs its reason (e.g. the exemption certificate)"]
    return errors
