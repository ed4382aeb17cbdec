"""Contract data in words for the admin's pages: amounts in the contract's currency, a version's terms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from catalog.admin.base import grouped, plain, tier_summary
from contracts.models import ContractVersion, OverrideKind, PriceOverride
from revops.money import minor_unit_exponent


def amount_in(value: Decimal | None, currency: str) -> str:
    """A stored amount in its currency: '1,000.00 USD'. Never hides a digit: 0.125 stays '0.125 USD'.

    Balances and minimums keep 3 decimals in the database and are not rounded to the minor unit
    (invoice lines are), so showing fewer decimals than the amount has would misstate it.
    """
    if value is None:
        return ""
    exponent = value.normalize().as_tuple().exponent
    places = max(minor_unit_exponent(currency), -exponent if isinstance(exponent, int) else 0)
    return f"{value:,.{places}f} {currency}"


def price_in_words(price: dict[str, Any] | None) -> str:
    """A replacement price as stored (strings for numbers): 'graduated: 0 to 1,000 at 0; over 1,000 at 0.02'."""
    if not isinstance(price, dict):
        return "no price given"
    parts = []
    for name, value in price.items():
        if name in ("model", "tiers") or value in (None, ""):
            continue
        try:
            shown = plain(Decimal(str(value)))
        except ArithmeticError:
            shown = str(value)
        parts.append(f"{name.replace('_', ' ')} {shown}")
    tiers = price.get("tiers") or []
    if tiers:
        parts.append(tier_summary([_decimal_tier(tier) for tier in tiers]))
    model = str(price.get("model", "?")).replace("_", " ")
    return f"{model}: {', '.join(parts)}" if parts else model


def _decimal_tier(tier: dict[str, Any]) -> dict[str, Decimal | None]:
    return {
        name: None if tier.get(name) in (None, "") else Decimal(str(tier[name]))
        for name in ("start", "up_to", "unit_price", "flat_fee")
    }


def override_in_words(override: PriceOverride) -> str:
    target = override.product.code if override.product else "the whole card"
    if override.kind == OverrideKind.DISCOUNT:
        return f"{plain(override.discount_percent)}% off {target}"
    if override.kind == OverrideKind.MULTIPLIER:
        return f"{target} prices x {plain(override.multiplier)}"
    return f"{target} priced instead at {price_in_words(override.price)}"


def terms_in_words(version: ContractVersion | None) -> list[str]:
    """Every term a version holds, one line each (prefetch overrides, included_usage, minimums and trials)."""
    if version is None:
        return []
    currency = version.contract.currency
    lines = [override_in_words(o) for o in version.overrides.all()]
    lines += [f"{grouped(i.quantity)} {i.product.code} included per period" for i in version.included_usage.all()]
    lines += [f"minimum spend {amount_in(m.amount, currency)} per period" for m in version.minimums.all()]
    lines += [
        f"free trial until {t.ends_on} (exclusive); usage {'billed' if t.usage_billed else 'free'} during it"
        for t in version.trials.all()
    ]
    return lines or ["no special terms: the card's prices as they are"]


def with_terms(versions: Any) -> Any:
    """A version queryset with what `terms_in_words` reads, fetched up front."""
    return versions.select_related("contract", "created_by").prefetch_related(
        "overrides__product", "included_usage__product", "minimums", "trials"
    )
