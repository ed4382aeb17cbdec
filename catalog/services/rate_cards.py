"""Rate cards, their versions and prices.

A version is a draft until `rate_card_version_activate` (the one activation service,
so the approval workflow can wrap it); then it and its prices are frozen, in the
services and in the database (triggers refuse changes to an active version's prices).
A change to prices is a new draft version, by default a copy of the latest one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max

from catalog import guardrails, rating, specs
from catalog.models import Price, PriceTier, Product, ProductKind, RateCard, RateCardVersion, VersionStatus
from catalog.services.metrics import _check_code
from revops.errors import Conflict, ValidationError
from revops.history import stamp
from revops.money import CurrencyError, validate_currency

PRICE_VALUE_FIELDS = ("model", *specs.SPEC_FIELDS)
# Price models that only make sense on a measured quantity.
USAGE_ONLY_MODELS = {rating.PriceModel.PERCENTAGE}


@transaction.atomic
def rate_card_create(
    *,
    code: str,
    name: str,
    currency: str,
    actor: AbstractBaseUser | None,
    description: str = "",
    reason: str = "rate card created",
) -> RateCard:
    _check_code(code, RateCard)
    try:
        currency = validate_currency(currency)
    except CurrencyError as exc:
        raise ValidationError(str(exc), field="currency") from None
    if not name.strip():
        raise ValidationError("a rate card needs a name", field="name")
    card = RateCard(code=code, name=name.strip(), currency=currency, description=description)
    stamp(card, actor=actor, reason=reason)
    card.save()
    return card


@transaction.atomic
def rate_card_version_create(
    *,
    rate_card: RateCard,
    effective_from: dt.date,
    actor: AbstractBaseUser | None,
    based_on: RateCardVersion | None = None,
    copy_prices: bool = True,
    notes: str = "",
    reason: str = "new draft version",
) -> RateCardVersion:
    """A new draft version. Its prices start as a copy of `based_on` (default: the latest version)."""
    rate_card = RateCard.objects.select_for_update().get(pk=rate_card.pk)
    if based_on is None and copy_prices:
        based_on = rate_card.versions.order_by("-number").first()
    if based_on is not None and based_on.rate_card_id != rate_card.pk:
        raise ValidationError("based_on must be a version of the same rate card", field="based_on")
    number = (rate_card.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = RateCardVersion(
        rate_card=rate_card, number=number, effective_from=effective_from, notes=notes, based_on=based_on
    )
    stamp(version, actor=actor, reason=reason)
    version.save()
    if based_on is not None and copy_prices:
        for price in based_on.prices.select_related("product").prefetch_related("tiers"):
            _copy_price(price, version, actor=actor, reason=f"copied from v{based_on.number}")
    return version


def _copy_price(price: Price, version: RateCardVersion, *, actor: AbstractBaseUser | None, reason: str) -> Price:
    tiers = list(price.tiers.all())
    copy = Price(
        version=version,
        product=price.product,
        group_key=price.group_key,
        group_value=price.group_value,
        currency=price.currency,
        **{f: getattr(price, f) for f in PRICE_VALUE_FIELDS},
    )
    stamp(copy, actor=actor, reason=reason)
    copy.save()
    for tier in tiers:
        _save_tier(copy, tier.start, tier.up_to, tier.unit_price, tier.flat_fee, actor=actor, reason=reason)
    return copy


def _save_tier(price, start, up_to, unit_price, flat_fee, *, actor, reason) -> PriceTier:
    tier = PriceTier(price=price, start=start, up_to=up_to, unit_price=unit_price, flat_fee=flat_fee)
    stamp(tier, actor=actor, reason=reason)
    tier.save()
    return tier


def _lock_draft(version: RateCardVersion) -> RateCardVersion:
    version = RateCardVersion.objects.select_for_update().select_related("rate_card").get(pk=version.pk)
    if not version.is_draft:
        raise Conflict(
            f"v{version.number} of {version.rate_card.code} is active and can no longer change; "
            "create a new version instead",
            code="version_not_draft",
        )
    return version


def _problems_to_fields(problems: Sequence[tuple[str, str]], prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, message in problems:
        out.setdefault(f"{prefix}{field}".replace("[", ".").replace("]", ""), []).append(message)
    return out


def price_check(
    *,
    version: RateCardVersion,
    product: Product,
    values: Mapping[str, Any],
    tiers: Sequence[Mapping[str, Any]],
    group_key: str = "",
    group_value: str = "",
) -> rating.PriceSpec:
    """Every rule a price must meet in its version; raises ValidationError naming the fields."""
    errors: dict[str, list[str]] = {}
    currency = values.get("currency") or version.rate_card.currency
    if currency != version.rate_card.currency:
        errors["currency"] = [
            f"this rate card is in {version.rate_card.currency}; one version cannot mix currencies ({currency})"
        ]
    model = values.get("model")
    if model not in {m.value for m in rating.PriceModel}:
        errors["model"] = [f"unknown price model {model!r}; use one of {', '.join(m.value for m in rating.PriceModel)}"]
    elif rating.PriceModel(model) in USAGE_ONLY_MODELS and product.kind != ProductKind.USAGE:
        errors["model"] = [f"a {model} price needs a usage product (it prices a measured amount)"]
    if group_key:
        allowed = product.metric.group_by if product.metric else []
        if group_key not in allowed:
            errors["group_key"] = [
                f"{group_key!r} is not a group-by property of {product.code}'s metric"
                + (f" ({', '.join(allowed)})" if allowed else " (it has none)")
            ]
    elif group_value:
        errors["group_value"] = ["a group value needs a group key"]
    if errors:
        raise ValidationError("the price is invalid", code="invalid_price", fields=errors)
    try:
        spec = specs.spec_from_values({**values, "currency": currency}, tiers)
        rating.validate_spec(spec)
    except rating.PriceSpecError as exc:
        raise ValidationError(
            "the price is invalid", code="invalid_price", fields=_problems_to_fields(exc.problems)
        ) from None
    except (ValueError, ArithmeticError) as exc:
        raise ValidationError(f"the price is invalid: {exc}", code="invalid_price") from None
    below = guardrails.floor_problems(product, spec)
    if below:
        raise ValidationError(f"the price is below {product.code}'s floor", code="below_price_floor", fields=below)
    siblings = version.prices.filter(product=product).exclude(group_value=group_value)
    if siblings.exclude(group_key=group_key).exists():
        raise ValidationError(
            f"{product.code} already has prices in this version with another group key; "
            "all of a product's prices in a version share one",
            code="invalid_price",
            field="group_key",
        )
    return spec


@transaction.atomic
def price_set(
    *,
    version: RateCardVersion,
    product: Product,
    values: Mapping[str, Any],
    actor: AbstractBaseUser | None,
    tiers: Sequence[Mapping[str, Any]] = (),
    group_key: str = "",
    group_value: str = "",
    replace: bool = False,
    reason: str = "price set",
) -> Price:
    """Add a product's price to a draft version (or, with replace=True, replace the one it has)."""
    version = _lock_draft(version)
    unknown = set(values) - set(PRICE_VALUE_FIELDS) - {"currency"}
    if unknown:
        raise ValidationError(f"unknown price field(s): {', '.join(sorted(unknown))}", code="invalid_price")
    price_check(
        version=version,
        product=product,
        values=values,
        tiers=tiers,
        group_key=group_key,
        group_value=group_value,
    )
    existing = version.prices.filter(product=product, group_value=group_value).first()
    if existing is not None and not replace:
        what = f"{product.code}" + (f" ({group_key}={group_value})" if group_value else "")
        raise ValidationError(
            f"this version already prices {what}; change that price instead of adding a second one",
            code="duplicate_price",
            field="product",
        )
    price = existing or Price(version=version, product=product)
    price.group_key, price.group_value = group_key, group_value
    price.currency = version.rate_card.currency
    defaults = {f: Price._meta.get_field(f).get_default() for f in PRICE_VALUE_FIELDS}
    for name, default in defaults.items():
        setattr(price, name, values.get(name, default))
    stamp(price, actor=actor, reason=reason)
    price.save()
    for tier in price.tiers.all():
        stamp(tier, actor=actor, reason=reason)
        tier.delete()
    for tier in tiers:
        _save_tier(
            price,
            tier["start"],
            tier.get("up_to"),
            tier["unit_price"],
            tier.get("flat_fee") or Decimal(0),
            actor=actor,
            reason=reason,
        )
    return price


@transaction.atomic
def price_delete(*, price: Price, actor: AbstractBaseUser | None, reason: str = "price removed") -> None:
    _lock_draft(price.version)
    for tier in price.tiers.all():
        stamp(tier, actor=actor, reason=reason)
        tier.delete()
    stamp(price, actor=actor, reason=reason)
    price.delete()


@transaction.atomic
def rate_card_version_update(
    *,
    version: RateCardVersion,
    actor: AbstractBaseUser | None,
    reason: str,
    effective_from: dt.date | None = None,
    notes: str | None = None,
) -> RateCardVersion:
    version = _lock_draft(version)
    if effective_from is not None:
        version.effective_from = effective_from
    if notes is not None:
        version.notes = notes
    stamp(version, actor=actor, reason=reason)
    version.save()
    return version


def rate_card_version_check(version: RateCardVersion) -> None:
    """What activation requires of a draft: prices, each valid, and a date after the last active version's."""
    prices = list(version.prices.select_related("product__metric").prefetch_related("tiers"))
    if not prices:
        raise ValidationError("a version needs at least one price before it can be activated", code="no_prices")
    errors: dict[str, list[str]] = {}
    by_product: dict[int, list[Price]] = {}
    for price in prices:
        by_product.setdefault(price.product_id, []).append(price)
        if price.currency != version.rate_card.currency:
            errors.setdefault("currency", []).append(
                f"{price.product.code} is priced in {price.currency}, the card in {version.rate_card.currency}"
            )
    for rows in by_product.values():
        product = rows[0].product
        group_key = rows[0].group_key
        if group_key and (product.metric is None or group_key not in product.metric.group_by):
            # The metric's definition may have changed since the price was set (allowed while unused).
            errors.setdefault(f"{product.code}.group_key", []).append(
                f"{group_key!r} is no longer a group-by property of {product.code}'s metric"
            )
        try:
            rating.validate_spec(specs.spec_for_product(rows))
        except rating.PriceSpecError as exc:
            errors.update(_problems_to_fields(exc.problems, prefix=f"{rows[0].product.code}."))
        else:
            for row in rows:
                errors.update(guardrails.floor_problems(product, specs.spec_for_price(row), prefix=f"{product.code}."))
    if errors:
        raise ValidationError("the version has invalid prices", code="invalid_version", fields=errors)
    latest = (
        RateCardVersion.objects.filter(rate_card=version.rate_card, status=VersionStatus.ACTIVE)
        .order_by("-effective_from")
        .first()
    )
    if latest is not None and version.effective_from <= latest.effective_from:
        raise ValidationError(
            f"v{version.number} must take effect after v{latest.number} (effective {latest.effective_from}); "
            f"it says {version.effective_from}",
            code="effective_date_not_after_active",
            field="effective_from",
        )


@transaction.atomic
def rate_card_version_activate(
    *,
    version: RateCardVersion,
    actor: AbstractBaseUser | None,
    as_of: dt.datetime,
    reason: str = "version activated",
) -> RateCardVersion:
    """Freeze a draft and put it into effect from its effective date. The single activation path."""
    version = _lock_draft(version)
    rate_card_version_check(version)
    version.status = VersionStatus.ACTIVE
    version.activated_at = as_of
    version.activated_by = actor
    stamp(version, actor=actor, reason=reason)
    version.save()
    from billing.webhooks.services import webhook_emit  # billing sits above catalog; imported when used

    webhook_emit(event_type="rate_card.activated", data=version, as_of=as_of)
    return version
