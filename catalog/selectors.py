"""Named catalog reads: lookups by code, the version in effect on a date, and price previews."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from catalog import rating, specs
from catalog.models import BillableMetric, Price, PriceTier, Product, RateCard, RateCardVersion, VersionStatus
from revops.errors import NotFound, ValidationError


def _get(queryset: QuerySet, what: str, **lookup):
    obj = queryset.filter(**lookup).first()
    if obj is None:
        value = next(iter(lookup.values()))
        raise NotFound(f"no {what} {value!r}", code=f"{what.replace(' ', '_')}_not_found")
    return obj


def metric_get(*, code: str) -> BillableMetric:
    return _get(BillableMetric.objects.all(), "metric", code=code)


def product_get(*, code: str) -> Product:
    return _get(Product.objects.select_related("metric"), "product", code=code)


def rate_card_get(*, code: str) -> RateCard:
    return _get(RateCard.objects.all(), "rate card", code=code)


def prices_with_tiers() -> QuerySet[Price]:
    return Price.objects.select_related("product__metric").prefetch_related(
        Prefetch("tiers", queryset=PriceTier.objects.order_by("start"))
    )


def version_get(*, rate_card: RateCard, number: int) -> RateCardVersion:
    version = (
        RateCardVersion.objects.select_related("rate_card", "activated_by")
        .prefetch_related(Prefetch("prices", queryset=prices_with_tiers()))
        .filter(rate_card=rate_card, number=number)
        .first()
    )
    if version is None:
        raise NotFound(f"{rate_card.code} has no version {number}", code="version_not_found")
    return version


def version_effective_on(*, rate_card: RateCard, day: dt.date) -> RateCardVersion | None:
    """The active version in effect on `day`: the latest effective date on or before it."""
    return (
        RateCardVersion.objects.filter(rate_card=rate_card, status=VersionStatus.ACTIVE, effective_from__lte=day)
        .order_by("-effective_from", "-number")
        .first()
    )


def _nothing_for(spec: rating.PriceSpec | rating.DimensionalPriceSpec) -> rating.Usage | Mapping[str, Decimal]:
    """Zero usage in the shape the price needs: no groups, or no events for per-event clamps."""
    if isinstance(spec, rating.DimensionalPriceSpec):
        return {}
    return rating.Usage(Decimal(0), 0, ())


@dataclass(frozen=True)
class PreviewLine:
    product: Product
    line: rating.RatedLine


def version_price_specs(
    version: RateCardVersion,
) -> dict[str, tuple[Product, rating.PriceSpec | rating.DimensionalPriceSpec]]:
    """Each product's engine spec in the version, keyed by product code."""
    rows: dict[str, list[Price]] = {}
    for price in prices_with_tiers().filter(version=version):
        rows.setdefault(price.product.code, []).append(price)
    return {code: (prices[0].product, specs.spec_for_product(prices)) for code, prices in rows.items()}


def version_preview(
    *, version: RateCardVersion, usage: Mapping[str, Decimal | rating.Usage | Mapping[str, Decimal]]
) -> list[PreviewLine]:
    """The lines the version would bill for the given quantities (per product code; per group value for
    dimensional prices). Products priced but not given are billed at zero (flat fees and minimums show)."""
    priced = version_price_specs(version)
    unknown = sorted(set(usage) - set(priced))
    if unknown:
        raise ValidationError(
            f"v{version.number} has no price for {', '.join(unknown)}", code="unpriced_product", field="usage"
        )
    lines: list[PreviewLine] = []
    try:
        for code, (product, spec) in sorted(priced.items()):
            quantity = usage.get(code, _nothing_for(spec))
            if isinstance(spec, rating.DimensionalPriceSpec):
                if not isinstance(quantity, Mapping):
                    raise ValidationError(
                        f"{code} is priced per {spec.group_key}: give its quantities per value",
                        field=f"usage.{code}",
                    )
                lines += [PreviewLine(product, line) for line in rating.rate_dimensional(spec, quantity)]
            else:
                if isinstance(quantity, Mapping):
                    raise ValidationError(f"{code} has one price: give one quantity", field=f"usage.{code}")
                lines.append(PreviewLine(product, rating.rate(spec, quantity)))
    except rating.RatingError as exc:
        raise ValidationError(str(exc), code="cannot_rate", field="usage") from None
    return lines
