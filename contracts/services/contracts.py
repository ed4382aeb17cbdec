"""Contracts: create, activate, end, amend (a new version of the terms), and subscription changes.

Terms are kept per version (see contracts/models.py). An amendment copies the terms in effect and
replaces the kinds it is given, so the earlier version stays exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max

from catalog import rating, specs
from catalog.models import Product, ProductKind, RateCard, RateCardVersion, VersionStatus
from contracts.models import (
    ChangeTiming,
    Contract,
    ContractStatus,
    ContractVersion,
    Customer,
    IncludedUsage,
    MinimumSpend,
    OverrideKind,
    PriceOverride,
    ProrationTiming,
    SubscriptionChange,
    Trial,
)
from revops.errors import Conflict, ValidationError
from revops.history import stamp
from revops.periods import Cadence, period_containing

SUBSCRIBED_KINDS = (ProductKind.SUBSCRIPTION, ProductKind.RECURRING_FEE, ProductKind.ONE_TIME)


@dataclass(frozen=True)
class OverrideSpec:
    kind: str
    product: Product | None = None
    multiplier: Decimal | None = None
    discount_percent: Decimal | None = None
    price: dict[str, Any] | None = None


@dataclass(frozen=True)
class Terms:
    """The terms of a contract version. `None` in an amendment means: keep what is in effect (an empty list
    removes every override or allowance; `remove_minimum` and `remove_trial` remove those)."""

    overrides: Sequence[OverrideSpec] | None = None
    included_usage: Sequence[tuple[Product, Decimal]] | None = None
    minimum_spend: Decimal | None = None
    trial: tuple[dt.date, bool] | None = None  # (ends_on, usage_billed)
    remove_minimum: bool = False
    remove_trial: bool = False


def terms_amended(current: Terms, change: Terms) -> Terms:
    """The terms in effect with an amendment's changes: each kind it gives replaces the current one, each it
    leaves out carries over, and a minimum or trial it removes is gone."""
    if change.remove_minimum and change.minimum_spend is not None:
        _fail("give a new minimum spend or remove it, not both", "minimum_spend")
    if change.remove_trial and change.trial is not None:
        _fail("give a new trial or remove it, not both", "trial")
    minimum = change.minimum_spend if change.minimum_spend is not None else current.minimum_spend
    trial = change.trial if change.trial is not None else current.trial
    return Terms(
        overrides=change.overrides if change.overrides is not None else current.overrides,
        included_usage=change.included_usage if change.included_usage is not None else current.included_usage,
        minimum_spend=None if change.remove_minimum else minimum,
        trial=None if change.remove_trial else trial,
    )


def _fail(message: str, field_name: str, code: str = "invalid") -> None:
    raise ValidationError(message, code=code, field=field_name)


def _check_terms(terms: Terms, rate_card: RateCard) -> None:
    """Overlaps, signs and fit with the card, all reported at once."""
    errors: dict[str, list[str]] = {}
    seen: set[int | None] = set()
    for index, o in enumerate(terms.overrides or ()):
        where = f"overrides.{index}"
        key = o.product.pk if o.product else None
        if key in seen:
            errors.setdefault(where, []).append(
                f"a second override for {o.product.code if o.product else 'the whole card'}; one per product"
            )
        seen.add(key)
        if o.kind not in OverrideKind.values:
            errors.setdefault(f"{where}.kind", []).append(f"use one of {', '.join(OverrideKind.values)}")
        elif o.kind == OverrideKind.MULTIPLIER and (o.multiplier is None or o.multiplier <= 0):
            errors.setdefault(f"{where}.multiplier", []).append("a multiplier must be above 0")
        elif o.kind == OverrideKind.DISCOUNT and (
            o.discount_percent is None or not Decimal(0) < o.discount_percent <= Decimal(100)
        ):
            errors.setdefault(f"{where}.discount_percent", []).append("a discount is a percentage above 0, up to 100")
        elif o.kind == OverrideKind.REPLACE:
            if o.product is None:
                errors.setdefault(f"{where}.product", []).append("a replacement price is for one product")
            if not isinstance(o.price, dict) or "model" not in o.price:
                errors.setdefault(f"{where}.price", []).append("give the replacement price's model and fields")
            else:
                for name, messages in _replacement_problems(o.price, rate_card.currency).items():
                    errors.setdefault(f"{where}.price.{name}", []).extend(messages)
    products: set[int] = set()
    for index, (product, quantity) in enumerate(terms.included_usage or ()):
        where = f"included_usage.{index}"
        if product.kind != ProductKind.USAGE:
            errors.setdefault(where, []).append(f"{product.code} is not a usage product")
        if product.pk in products:
            errors.setdefault(where, []).append(f"{product.code} is included twice; one amount per product")
        products.add(product.pk)
        if quantity <= 0:
            errors.setdefault(f"{where}.quantity", []).append("included usage must be above 0")
    if terms.minimum_spend is not None and terms.minimum_spend <= 0:
        errors.setdefault("minimum_spend", []).append("a minimum spend must be above 0")
    if errors:
        raise ValidationError("the contract terms are invalid", code="invalid_terms", fields=errors)


def _jsonable(value: Any) -> Any:
    """Decimals as strings, so a replacement price is stored exactly (JSON numbers would be floats)."""
    if isinstance(value, Decimal):
        return format(value, "f")  # never exponent notation ("0E-12")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _replacement_problems(price: dict[str, Any], currency: str) -> dict[str, list[str]]:
    """Everything the rating engine would refuse in a replacement price, by field (empty: it rates)."""
    values = {k: v for k, v in price.items() if k != "tiers"}
    try:
        rating.validate_spec(specs.spec_from_values({**values, "currency": currency}, price.get("tiers") or []))
    except rating.PriceSpecError as exc:
        out: dict[str, list[str]] = {}
        for name, message in exc.problems:
            out.setdefault(name.replace("[", ".").replace("]", ""), []).append(message)
        return out
    except (ValueError, ArithmeticError, TypeError, KeyError) as exc:
        return {"model": [f"this price cannot be read: {exc}"]}
    return {}


def _write_terms(version: ContractVersion, terms: Terms, *, actor, reason: str) -> None:
    for o in terms.overrides or ():
        obj = PriceOverride(
            version=version,
            product=o.product,
            kind=o.kind,
            multiplier=o.multiplier,
            discount_percent=o.discount_percent,
            price=_jsonable(o.price),
        )
        stamp(obj, actor=actor, reason=reason)
        obj.save()
    for product, quantity in terms.included_usage or ():
        obj = IncludedUsage(version=version, product=product, quantity=quantity)
        stamp(obj, actor=actor, reason=reason)
        obj.save()
    if terms.minimum_spend is not None:
        obj = MinimumSpend(version=version, amount=terms.minimum_spend)
        stamp(obj, actor=actor, reason=reason)
        obj.save()
    if terms.trial is not None:
        ends_on, usage_billed = terms.trial
        obj = Trial(version=version, ends_on=ends_on, usage_billed=usage_billed)
        stamp(obj, actor=actor, reason=reason)
        obj.save()


def terms_of(version: ContractVersion) -> Terms:
    """The terms a version holds, in the shape amendments take."""
    trial = version.trials.first()
    minimum = version.minimums.first()
    return Terms(
        overrides=[
            OverrideSpec(o.kind, o.product, o.multiplier, o.discount_percent, o.price)
            for o in version.overrides.select_related("product")
        ],
        included_usage=[(i.product, i.quantity) for i in version.included_usage.select_related("product")],
        minimum_spend=minimum.amount if minimum else None,
        trial=(trial.ends_on, trial.usage_billed) if trial else None,
    )


@transaction.atomic
def contract_create(
    *,
    customer: Customer,
    rate_card: RateCard,
    start_date: dt.date,
    actor: AbstractBaseUser | None,
    cadence: str = Cadence.MONTHLY,
    billing_anchor: dt.date | None = None,
    end_date: dt.date | None = None,
    pinned_version: RateCardVersion | None = None,
    proration: str = ProrationTiming.NEXT_INVOICE,
    name: str = "",
    terms: Terms | None = None,
    subscriptions: Sequence[tuple[Product, Decimal]] = (),
    reason: str = "contract signed",
) -> Contract:
    """A draft contract with its signed terms (version 1) and its starting subscriptions."""
    if rate_card.currency != customer.currency:
        _fail(
            f"{customer.external_id} is billed in {customer.currency}, {rate_card.code} prices in "
            f"{rate_card.currency}; a contract has one currency",
            "rate_card",
            "currency_mismatch",
        )
    if end_date is not None and end_date <= start_date:
        _fail("the end date must come after the start date", "end_date", "dates_out_of_order")
    if cadence not in {c.value for c in Cadence}:
        _fail(f"use one of {', '.join(c.value for c in Cadence)}", "cadence")
    if proration not in ProrationTiming.values:
        _fail(f"use one of {', '.join(ProrationTiming.values)}", "proration")
    if pinned_version is not None:
        pinned_version = RateCardVersion.objects.get(pk=pinned_version.pk)  # its status as stored, not as passed
    if pinned_version is not None and (
        pinned_version.rate_card_id != rate_card.pk or pinned_version.status != VersionStatus.ACTIVE
    ):
        _fail("a contract can be pinned only to an active version of its rate card", "pinned_version")
    terms = terms or Terms()
    _check_terms(terms, rate_card)
    contract = Contract(
        customer=customer,
        rate_card=rate_card,
        pinned_version=pinned_version,
        currency=rate_card.currency,
        cadence=cadence,
        billing_anchor=billing_anchor or start_date,
        start_date=start_date,
        end_date=end_date,
        proration=proration,
        name=name,
    )
    stamp(contract, actor=actor, reason=reason)
    contract.save()
    version = ContractVersion(contract=contract, number=1, effective_from=start_date, reason=reason, created_by=actor)
    stamp(version, actor=actor, reason=reason)
    version.save()
    _write_terms(version, terms, actor=actor, reason=reason)
    for product, quantity in subscriptions:
        subscription_change(
            contract=contract, product=product, quantity=quantity, effective_date=start_date, actor=actor, reason=reason
        )
    return contract


def _lock(contract: Contract) -> Contract:
    return Contract.objects.select_for_update().select_related("customer", "rate_card").get(pk=contract.pk)


@transaction.atomic
def contract_activate(*, contract: Contract, actor: AbstractBaseUser | None, reason: str = "activated") -> Contract:
    contract = _lock(contract)
    if contract.status != ContractStatus.DRAFT:
        raise Conflict(f"the contract is {contract.status}; only a draft can be activated", code="not_draft")
    contract.status = ContractStatus.ACTIVE
    stamp(contract, actor=actor, reason=reason)
    contract.save()
    return contract


@transaction.atomic
def contract_end(*, contract: Contract, end_date: dt.date, actor: AbstractBaseUser | None, reason: str) -> Contract:
    contract = _lock(contract)
    if contract.status == ContractStatus.ENDED:
        raise Conflict("the contract has ended already", code="already_ended")
    if end_date <= contract.start_date:
        _fail("the end date must come after the start date", "end_date", "dates_out_of_order")
    contract.end_date = end_date
    contract.status = ContractStatus.ENDED
    stamp(contract, actor=actor, reason=reason)
    contract.save()
    return contract


@transaction.atomic
def contract_amend(
    *,
    contract: Contract,
    effective_from: dt.date,
    actor: AbstractBaseUser | None,
    reason: str,
    terms: Terms,
) -> ContractVersion:
    """A new version of the terms from `effective_from`. Kinds left None in `terms` carry over unchanged."""
    contract = _lock(contract)
    if contract.status == ContractStatus.ENDED:
        raise Conflict("an ended contract cannot be amended", code="contract_ended")
    if not reason.strip():
        _fail("an amendment needs a reason", "reason")
    latest = contract.versions.order_by("-number").first()
    if effective_from <= latest.effective_from:
        _fail(
            f"an amendment must take effect after v{latest.number} (effective {latest.effective_from})",
            "effective_from",
            "dates_out_of_order",
        )
    if contract.end_date and effective_from >= contract.end_date:
        _fail("the contract has ended by then", "effective_from", "dates_out_of_order")
    merged = terms_amended(terms_of(latest), terms)
    _check_terms(merged, contract.rate_card)
    number = (contract.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ContractVersion(
        contract=contract, number=number, effective_from=effective_from, reason=reason, created_by=actor
    )
    stamp(version, actor=actor, reason=reason)
    version.save()
    _write_terms(version, merged, actor=actor, reason=reason)
    return version


@transaction.atomic
def subscription_change(
    *,
    contract: Contract,
    product: Product,
    quantity: Decimal,
    effective_date: dt.date,
    actor: AbstractBaseUser | None,
    timing: str = ChangeTiming.IMMEDIATE,
    reason: str = "subscription changed",
    as_of: dt.datetime | None = None,
    bill: bool = True,
) -> SubscriptionChange:
    """Set a subscription's quantity from a date: at once (prorated) or from the next period's start.

    On a contract whose proration is `immediately`, a change inside a begun period is billed at once on an
    off-cycle invoice as of `as_of` (without `as_of`, or with `bill` False, it is left to the period invoice)."""
    if product.kind not in SUBSCRIBED_KINDS:
        _fail(
            f"{product.code} is a {product.kind} product; subscriptions are seats, fees or one-time charges", "product"
        )
    if quantity < 0:
        _fail("a quantity cannot be negative", "quantity")
    if timing not in ChangeTiming.values:
        _fail(f"use one of {', '.join(ChangeTiming.values)}", "timing")
    if effective_date < contract.start_date:
        _fail("the change would take effect before the contract starts", "effective_date", "dates_out_of_order")
    if timing == ChangeTiming.PERIOD_END:
        effective_date = period_containing(contract.billing_anchor, contract.cadence, effective_date).end
    if contract.end_date and effective_date >= contract.end_date:
        _fail("the contract has ended by then", "effective_date", "dates_out_of_order")
    change = SubscriptionChange(
        contract=contract,
        product=product,
        quantity=quantity,
        effective_date=effective_date,
        timing=timing,
        reason=reason,
        created_by=actor,
    )
    stamp(change, actor=actor, reason=reason)
    change.save()
    if bill:
        _bill_at_once(contract, [change], as_of=as_of, actor=actor)
    return change


def _bill_at_once(contract: Contract, changes: list[SubscriptionChange], *, as_of, actor) -> None:
    if as_of is None or contract.proration != ProrationTiming.IMMEDIATELY:
        return
    # Billing sits above contracts; it is reached through its services, and only when there is something to bill.
    from billing.services.proration import invoice_off_cycle_issue

    invoice_off_cycle_issue(contract=contract, changes=changes, as_of=as_of, actor=actor)


@transaction.atomic
def plan_change(
    *,
    contract: Contract,
    from_product: Product,
    to_product: Product,
    quantity: Decimal,
    on: dt.date,
    timing: str,
    actor: AbstractBaseUser | None,
    reason: str = "plan changed",
    as_of: dt.datetime | None = None,
) -> tuple[SubscriptionChange, SubscriptionChange]:
    """Upgrade or downgrade: the old product goes to zero and the new one starts, both at the same moment."""
    if from_product.pk == to_product.pk:
        _fail("a plan change moves to another product; to change the quantity, change the subscription", "to_product")
    old = subscription_change(
        contract=contract,
        product=from_product,
        quantity=Decimal(0),
        effective_date=on,
        timing=timing,
        actor=actor,
        reason=reason,
        bill=False,
    )
    new = subscription_change(
        contract=contract,
        product=to_product,
        quantity=quantity,
        effective_date=on,
        timing=timing,
        actor=actor,
        reason=reason,
        bill=False,
    )
    _bill_at_once(contract, [old, new], as_of=as_of, actor=actor)  # one invoice for the pair: they net
    return old, new
