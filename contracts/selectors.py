"""Named read queries for customers and contracts, and a contract's effective prices for a period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from catalog import rating
from catalog.models import BillingTiming, Product, ProductKind, RateCardVersion
from catalog.selectors import version_effective_on, version_price_specs
from contracts import pricing
from contracts.models import Balance, Contract, ContractVersion, Customer, OverrideKind, SubscriptionChange
from contracts.prefetch import batch_for
from revops.errors import NotFound, ValidationError
from revops.money import round_amount, rounding_mode
from revops.periods import Period, period_containing, prorate, proration_fraction


def customer_list(*, search: str | None = None) -> QuerySet[Customer]:
    qs = Customer.objects.all()
    if search:
        qs = qs.filter(name__icontains=search) | qs.filter(external_id__icontains=search)
    return qs.order_by("name", "pk")


def customer_get(*, external_id: str) -> Customer:
    customer = Customer.objects.filter(external_id=external_id).first()
    if customer is None:
        raise NotFound(f"no customer with external id {external_id!r}", code="customer_not_found")
    return customer


# --- contracts ----------------------------------------------------------------------------------------


def contract_get(*, pk: int) -> Contract:
    contract = Contract.objects.select_related("customer", "rate_card", "pinned_version").filter(pk=pk).first()
    if contract is None:
        raise NotFound(f"no contract {pk}", code="contract_not_found")
    return contract


def contract_version_on(contract: Contract, day: dt.date) -> ContractVersion | None:
    """The terms in effect on `day`: the latest version that took effect on or before it."""
    if batch := batch_for(contract):
        in_effect = [v for v in batch.versions(contract.pk) if v.effective_from <= day]
        return max(in_effect, key=lambda v: (v.effective_from, v.number), default=None)
    return contract.versions.filter(effective_from__lte=day).order_by("-effective_from").first()


def _terms_on(contract: Contract, day: dt.date) -> ContractVersion:
    """The version in effect on `day`, or the first one for a day before any took effect."""
    if batch := batch_for(contract):
        return contract_version_on(contract, day) or batch.versions(contract.pk)[0]
    return contract_version_on(contract, day) or contract.versions.order_by("number").first()


def contract_period(contract: Contract, day: dt.date) -> Period:
    return period_containing(contract.billing_anchor, contract.cadence, day)


def contract_ended_by(contract: Contract, day: dt.date) -> bool:
    """Whether the contract has ended by `day` (its end date is the first day it no longer covers)."""
    return contract.end_date is not None and day >= contract.end_date


def subscription_segments(
    contract: Contract, period: Period, *, excluding: Collection[int] = ()
) -> dict[Product, list[tuple[dt.date, dt.date, Decimal]]]:
    """Per subscribed product, the stretches of `period` at each quantity: [(start, end, quantity)], so fees
    can be prorated by day. Stretches at quantity 0 are left out. `excluding`: change ids read as not made."""
    if batch := batch_for(contract):
        changes = [c for c in batch.changes(contract.pk) if c.effective_date < period.end and c.pk not in excluding]
    else:
        changes = list(
            SubscriptionChange.objects.filter(contract=contract, effective_date__lt=period.end)
            .exclude(pk__in=excluding)
            .select_related("product")
            .order_by("product_id", "effective_date", "pk")
        )
    by_product: dict[int, list[SubscriptionChange]] = {}
    for change in changes:
        if change.product.kind != ProductKind.ONE_TIME:  # charged once on its date, not held (one_time_charges)
            by_product.setdefault(change.product_id, []).append(change)
    start_of_contract = max(period.start, contract.start_date)
    end_of_contract = min(period.end, contract.end_date) if contract.end_date else period.end
    result: dict[Product, list[tuple[dt.date, dt.date, Decimal]]] = {}
    for entries in by_product.values():
        # The quantity on each day is the latest entry in effect: later entries for a date win.
        points: dict[dt.date, Decimal] = {}
        for entry in entries:
            points[max(entry.effective_date, start_of_contract)] = entry.quantity
        days = sorted(points)
        segments = []
        for index, day in enumerate(days):
            start = max(day, start_of_contract)
            end = days[index + 1] if index + 1 < len(days) else end_of_contract
            end = min(end, end_of_contract)
            if start < end and points[day] > 0:
                segments.append((start, end, points[day]))
        if segments:
            result[entries[0].product] = segments
    return result


def one_time_charges(contract: Contract, period: Period) -> dict[Product, list[tuple[dt.date, Decimal]]]:
    """Per one-time product, the charges dated in `period` (and in the contract's term): [(date, quantity)].
    Each entry of the schedule is a charge on its date; a later entry for the same date replaces it (0 takes
    it back)."""
    if batch := batch_for(contract):
        changes = [c for c in batch.changes(contract.pk) if period.start <= c.effective_date < period.end]
    else:
        changes = list(
            SubscriptionChange.objects.filter(
                contract=contract, effective_date__gte=period.start, effective_date__lt=period.end
            )
            .select_related("product")
            .order_by("product_id", "effective_date", "pk")
        )
    charges: dict[Product, dict[dt.date, Decimal]] = {}
    for change in changes:
        in_term = change.effective_date >= contract.start_date and (
            contract.end_date is None or change.effective_date < contract.end_date
        )
        if change.product.kind == ProductKind.ONE_TIME and in_term:
            charges.setdefault(change.product, {})[change.effective_date] = change.quantity
    result: dict[Product, list[tuple[dt.date, Decimal]]] = {}
    for product, by_day in charges.items():
        if kept := [(day, quantity) for day, quantity in sorted(by_day.items()) if quantity > 0]:
            result[product] = kept
    return result


@dataclass(frozen=True)
class ContractPrice:
    """A product's price under the contract for a period: the card's, with the contract's terms applied."""

    product: Product
    spec: rating.PriceSpec | rating.DimensionalPriceSpec
    included: Decimal | None  # the contract's allowance per period, if any


def contract_card_version(contract: Contract, period: Period) -> RateCardVersion:
    """The rate card version that prices `period`: the pinned one, or the one in effect when it starts."""
    batch = batch_for(contract)
    if contract.pinned_version:
        card_version = contract.pinned_version
    elif batch:
        card_version = batch.remember(
            ("card_version", contract.rate_card_id, period.start),
            lambda: version_effective_on(rate_card=contract.rate_card, day=period.start),
        )
    else:
        card_version = version_effective_on(rate_card=contract.rate_card, day=period.start)
    if card_version is None:
        raise ValidationError(
            f"{contract.rate_card.code} has no version in effect on {period.start}", code="no_price_version"
        )
    return card_version


def contract_price_specs(
    contract: Contract, period: Period, *, card_version: RateCardVersion | None = None, list_prices: bool = False
) -> dict[str, ContractPrice]:
    """The effective price of every product on the contract's card for `period`: the card version
    (pinned, or the one in effect when the period starts), the overrides and the included usage of
    the contract version in effect then. Billing, previews and experiments all price through this.
    `card_version` prices with another version instead (what-ifs: migrations, experiments)."""
    batch = batch_for(contract)
    key = ("prices", contract.pk, period, card_version.pk if card_version else None, list_prices)
    if batch and key in batch.memo:
        return batch.memo[key]
    card_version = card_version or contract_card_version(contract, period)
    terms = _terms_on(contract, period.start)
    overrides = {o.product_id: o for o in terms.overrides.all()}
    included = {i.product_id: i.quantity for i in terms.included_usage.all()}
    prices: dict[str, ContractPrice] = {}
    if batch:
        specs = batch.remember(("specs", card_version.pk), lambda: version_price_specs(card_version))
    else:
        specs = version_price_specs(card_version)
    for code, (product, spec) in specs.items():
        override = overrides.get(product.pk) or overrides.get(None)
        if override is not None and not (list_prices and override.kind == OverrideKind.DISCOUNT):
            spec = pricing.apply_override(
                spec,
                kind=override.kind,
                currency=contract.currency,
                multiplier=override.multiplier,
                discount_percent=override.discount_percent,
                price=override.price,
            )
        allowance = included.get(product.pk)
        if allowance is not None and isinstance(spec, rating.PriceSpec):
            spec = pricing.with_included(spec, allowance)
        prices[code] = ContractPrice(product, spec, allowance)
    if batch:
        batch.memo[key] = prices
    return prices


@dataclass(frozen=True)
class ContractSnapshot:
    """A contract as it was on a date: its terms then, its subscriptions then, its balances then."""

    contract: Contract
    day: dt.date
    version: ContractVersion | None
    subscriptions: dict[str, Decimal]
    balances: list[tuple[Balance, Decimal]]


def contract_as_of(contract: Contract, day: dt.date) -> ContractSnapshot:
    version = contract_version_on(contract, day)
    subscriptions: dict[str, Decimal] = {}
    for change in (
        SubscriptionChange.objects.filter(contract=contract, effective_date__lte=day)
        .select_related("product")
        .order_by("effective_date", "pk")
    ):
        subscriptions[change.product.code] = change.quantity
    moment = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
    balances = []
    for balance in contract.balances.filter(starts_on__lte=day).order_by("expires_on", "priority", "pk"):
        held = balance.entries.filter(effective_at__lte=moment).aggregate(total=Sum("amount"))["total"]
        balances.append((balance, held or Decimal(0)))
    return ContractSnapshot(contract, day, version, {k: v for k, v in subscriptions.items() if v}, balances)


@dataclass(frozen=True)
class PreviewLine:
    product: Product | None
    description: str
    line: rating.RatedLine | None
    amount: Decimal  # rounded once, to the currency's minor unit
    # What a fee pays for, when not the whole period: a prorated stretch, or a one-time charge's day.
    service_start: dt.date | None = None
    service_end: dt.date | None = None


def _price_of(contract: Contract, prices: dict[str, ContractPrice], product: Product) -> ContractPrice:
    price = prices.get(product.code)
    if price is None:
        raise ValidationError(f"{product.code} has no price on {contract.rate_card.code}", code="unpriced_product")
    return price


def _rate_fee(price: ContractPrice, quantity: Decimal) -> rating.RatedLine:
    try:
        return rating.rate(price.spec, quantity)
    except rating.RatingError as exc:
        raise ValidationError(str(exc), code="cannot_rate", field=price.product.code) from None


def _fee_lines(
    contract: Contract,
    prices: dict[str, ContractPrice],
    period: Period,
    trial_ends: dt.date | None,
    excluding: Collection[int] = (),
    timing: str | None = None,
):
    """The period's fees: subscriptions and recurring fees prorated by day over their stretches, then
    one-time charges whole on their dates. `timing` keeps only the products billed in advance or in arrears."""
    for product, segments in subscription_segments(contract, period, excluding=excluding).items():
        if timing is not None and product.billing_timing != timing:
            continue
        price = _price_of(contract, prices, product)
        for start, end, quantity in segments:
            if trial_ends is not None:  # base fees are free during a trial
                start = max(start, min(trial_ends, end))
                if start >= end:
                    continue
            line = _rate_fee(price, quantity)
            fraction = proration_fraction(period, start, end)
            amount = round_amount(
                prorate(line.amount, period, start, end), contract.currency, rounding_mode(line.rounding)
            )
            label = f"{product.name}: {format(quantity.normalize(), 'f')} x {start} to {end}"
            if fraction != 1:
                label += f" (prorated {(end - start).days}/{period.days} days)"
            yield PreviewLine(product, label, line, amount, start, end)
    if timing == BillingTiming.IN_ARREARS:  # a one-time charge is always billed in advance
        return
    for product, charges in one_time_charges(contract, period).items():
        price = _price_of(contract, prices, product)
        for day, quantity in charges:  # charged whole: a trial waives recurring fees, not one-time ones
            line = _rate_fee(price, quantity)
            label = f"{product.name}: {format(quantity.normalize(), 'f')} on {day}"
            yield PreviewLine(product, label, line, line.rounded_amount(), day, day + dt.timedelta(days=1))


def contract_preview(
    *,
    contract: Contract,
    period: Period,
    usage: dict[str, Decimal | dict[str, Decimal]],
    card_version: RateCardVersion | None = None,
    list_prices: bool = False,
) -> list[PreviewLine]:
    """The lines `period` would bill: subscription fees (prorated by day over changes), usage priced with the
    contract's terms (given quantities per usage product; per group value for dimensional prices), and a
    minimum-spend true-up. Balances are applied by billing, not here."""
    prices = contract_price_specs(contract, period, card_version=card_version, list_prices=list_prices)
    terms = _terms_on(contract, period.start)
    trial = terms.trials.first()
    trial_ends = _trial_ends(trial, period)
    lines = list(_fee_lines(contract, prices, period, trial_ends))
    usage_free = trial_ends is not None and trial_ends >= period.end and not trial.usage_billed
    for code, quantity in sorted(usage.items()):
        price = prices.get(code)
        if price is None:
            raise ValidationError(
                f"{code} is not priced for this contract", code="unpriced_product", field=f"usage.{code}"
            )
        if price.product.metric_id is None:
            raise ValidationError(
                f"{code} is a {price.product.kind} product; its quantity comes from the subscription schedule",
                code="not_usage",
                field=f"usage.{code}",
            )
        spec = price.spec
        try:
            if isinstance(spec, rating.DimensionalPriceSpec):
                groups = quantity if isinstance(quantity, dict) else {"": quantity}
                if price.included is not None:
                    spec = pricing.dimensional_with_included(spec, groups, price.included)
                rated = rating.rate_dimensional(spec, groups)
            else:
                if isinstance(quantity, dict):
                    raise ValidationError(
                        f"{code} has one price, not one per group: give one quantity",
                        code="invalid",
                        field=f"usage.{code}",
                    )
                rated = [rating.rate(spec, quantity)]
        except rating.RatingError as exc:
            raise ValidationError(str(exc), code="cannot_rate", field=f"usage.{code}") from None
        for line in rated:
            amount = Decimal(0) if usage_free else line.rounded_amount()
            label = price.product.name + (f" ({line.group})" if line.group else "")
            lines.append(PreviewLine(price.product, label, line, amount))
    minimum = terms.minimums.first()
    # A period past the contract's end is closed only to give back fees billed in advance for it.
    if minimum is not None and not contract_ended_by(contract, period.start):
        spent = sum((line.amount for line in lines), Decimal(0))
        if spent < minimum.amount:
            lines.append(
                PreviewLine(
                    None,
                    f"Minimum spend true-up (minimum {round_amount(minimum.amount, contract.currency)})",
                    None,
                    round_amount(minimum.amount - spent, contract.currency),
                )
            )
    return lines


def contract_fee_lines(
    *,
    contract: Contract,
    period: Period,
    excluding: Collection[int] = (),
    timing: str | None = None,
    list_prices: bool = False,
) -> list[PreviewLine]:
    """The fee lines of `period` alone (subscriptions, recurring fees, one-time charges), as the preview prices
    them; `excluding` reads those subscription changes as not made (what the period cost before them); `timing`
    keeps the products billed in advance or in arrears; `list_prices` leaves contract discounts out."""
    prices = contract_price_specs(contract, period, list_prices=list_prices)
    trial_ends = _trial_ends(_terms_on(contract, period.start).trials.first(), period)
    return list(_fee_lines(contract, prices, period, trial_ends, excluding, timing))


def _trial_ends(trial, period: Period) -> dt.date | None:
    """When the trial in the period's terms ends, if it runs into the period."""
    return trial.ends_on if trial and trial.ends_on > period.start else None


def contract_active_on(customer: Customer, day: dt.date) -> Contract | None:
    """The customer's active contract covering `day` (the latest started, if several)."""
    return (
        Contract.objects.filter(customer=customer, status__in=["active", "ended"], start_date__lte=day)
        .filter(Q(end_date__isnull=True) | Q(end_date__gt=day))
        .select_related("rate_card", "pinned_version")
        .order_by("-start_date", "-pk")
        .first()
    )
