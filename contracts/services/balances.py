"""Prepaid commitments and credit grants: grant, draw down, expire (with rollover), void, adjust.

A balance is the sum of its append-only ledger entries. Every movement locks the balances it
touches (`SELECT ... FOR UPDATE`, in primary-key order so concurrent movements never deadlock),
re-reads what is left under the lock, and only then writes, so no draw-down ever overdraws.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, Sum

from catalog.models import Product
from contracts.models import Balance, BalanceKind, Contract, EntryKind, LedgerEntry
from revops.errors import Conflict, ValidationError
from revops.history import stamp

ZERO = Decimal(0)


def remaining(balance: Balance) -> Decimal:
    return balance.entries.aggregate(total=Sum("amount"))["total"] or ZERO


def _remaining_by_id(balance_ids: list[int]) -> dict[int, Decimal]:
    rows = (
        LedgerEntry.objects.filter(balance_id__in=balance_ids)
        .values("balance_id")
        .annotate(total=Sum("amount"))
        .values_list("balance_id", "total")
    )
    found = dict(rows)
    return {pk: found.get(pk, ZERO) for pk in balance_ids}


def _entry(
    balance: Balance, kind: str, amount: Decimal, at: dt.datetime, *, actor, memo="", reference=""
) -> LedgerEntry:
    return LedgerEntry.objects.create(
        balance=balance, kind=kind, amount=amount, effective_at=at, memo=memo, reference=reference, created_by=actor
    )


def _check_amount(amount: Decimal) -> None:
    if amount <= 0:
        raise ValidationError("the amount must be above 0", field="amount")


@transaction.atomic
def balance_grant(
    *,
    contract: Contract,
    kind: str,
    amount: Decimal,
    starts_on: dt.date,
    expires_on: dt.date,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None,
    priority: int = 100,
    product: Product | None = None,
    rollover_fraction: Decimal = ZERO,
    name: str = "",
    reason: str = "",
    rolled_over_from: Balance | None = None,
) -> Balance:
    """A prepaid commitment (kind commit) or a credit grant (kind credit), with its grant entry."""
    _check_amount(amount)
    if kind not in BalanceKind.values:
        raise ValidationError(f"use one of {', '.join(BalanceKind.values)}", field="kind")
    if expires_on <= starts_on:
        raise ValidationError("a balance must expire after it starts", code="dates_out_of_order", field="expires_on")
    if not ZERO <= rollover_fraction <= 1:
        raise ValidationError("the rollover fraction is between 0 and 1", field="rollover_fraction")
    if kind == BalanceKind.CREDIT and rollover_fraction:
        raise ValidationError("credits do not roll over; commitments do", field="rollover_fraction")
    if kind == BalanceKind.COMMIT and product is not None:
        raise ValidationError("a commitment covers the whole contract; scope credits instead", field="product")
    balance = Balance(
        contract=contract,
        kind=kind,
        amount=amount,
        priority=priority,
        product=product,
        starts_on=starts_on,
        expires_on=expires_on,
        rollover_fraction=rollover_fraction,
        name=name,
        reason=reason,
        rolled_over_from=rolled_over_from,
    )
    stamp(balance, actor=actor, reason=reason or f"{kind} granted")
    balance.save()
    _entry(balance, EntryKind.GRANT, amount, as_of, actor=actor, memo=reason)
    return balance


def draw_order(balance: Balance) -> tuple:
    """Which balance pays first: soonest expiry, then priority (lower first), then the oldest."""
    return (balance.expires_on, balance.priority, balance.created_at, balance.pk)


def usable_query(*, contract: Contract, on: dt.date, product: Product | None, scoped_only: bool = False) -> Q:
    """Balances usable on `on` for `product`: contract-wide ones and those scoped to it (`scoped_only`: only
    those scoped to it, so a product's own credits can pay its lines before contract-wide balances do)."""
    usable = Q(contract=contract, starts_on__lte=on, expires_on__gt=on)
    if scoped_only:
        return usable & Q(product=product)
    return usable & (Q(product__isnull=True) | Q(product=product))


def balances_usable(
    *, contract: Contract, on: dt.date, product: Product | None = None, scoped_only: bool = False
) -> list[tuple[Balance, Decimal]]:
    """The balances a draw-down on `on` would take from, in that order, with what each holds (no lock: a preview)."""
    query = usable_query(contract=contract, on=on, product=product, scoped_only=scoped_only)
    found = list(Balance.objects.filter(query))
    left = _remaining_by_id([b.pk for b in found])
    return [(b, left[b.pk]) for b in sorted(found, key=draw_order) if left[b.pk] > 0]


@dataclass(frozen=True)
class DrawDown:
    requested: Decimal
    drawn: Decimal
    entries: list[LedgerEntry]

    @property
    def short(self) -> Decimal:
        """What the balances could not cover (to be billed)."""
        return self.requested - self.drawn


@transaction.atomic
def balance_draw_down(
    *,
    contract: Contract,
    amount: Decimal,
    on: dt.date,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None,
    product: Product | None = None,
    scoped_only: bool = False,
    reference: str = "",
) -> DrawDown:
    """Draw `amount` from the balances usable on `on` (for `product`): soonest expiry, then priority, then
    oldest. Draws only what is there; the shortfall is returned, never overdrawn."""
    _check_amount(amount)
    locked = list(
        Balance.objects.select_for_update()
        .filter(usable_query(contract=contract, on=on, product=product, scoped_only=scoped_only))
        .order_by("pk")
    )
    left = _remaining_by_id([b.pk for b in locked])
    entries = []
    wanted = amount
    for balance in sorted(locked, key=draw_order):
        if wanted <= 0:
            break
        take = min(wanted, left[balance.pk])
        if take <= 0:
            continue
        entries.append(_entry(balance, EntryKind.DRAWDOWN, -take, as_of, actor=actor, reference=reference))
        from billing.webhooks.services import webhook_commit_drawn  # billing sits above contracts

        webhook_commit_drawn(balance=balance, before=left[balance.pk], after=left[balance.pk] - take, as_of=as_of)
        wanted -= take
    return DrawDown(requested=amount, drawn=amount - wanted, entries=entries)


@transaction.atomic
def balance_expire(*, balance: Balance, as_of: dt.datetime, actor: AbstractBaseUser | None) -> list[LedgerEntry]:
    """At the end of its access period, what is left expires; a commitment may roll a share into a new one."""
    balance = Balance.objects.select_for_update().get(pk=balance.pk)
    if as_of.date() < balance.expires_on:
        raise Conflict(f"this balance is usable until {balance.expires_on}", code="not_expired")
    if balance.entries.filter(kind__in=[EntryKind.EXPIRY, EntryKind.ROLLOVER, EntryKind.VOID]).exists():
        return []  # already closed: expiring twice must not take money twice
    left = remaining(balance)
    if left <= 0:
        return []
    entries = []
    rolled = (left * balance.rollover_fraction).quantize(Decimal("0.001"))
    if rolled > 0:
        length = balance.expires_on - balance.starts_on
        successor = balance_grant(
            contract=balance.contract,
            kind=balance.kind,
            amount=rolled,
            starts_on=balance.expires_on,
            expires_on=balance.expires_on + length,
            as_of=as_of,
            actor=actor,
            priority=balance.priority,
            name=f"Rollover of {balance}",
            reason=f"rolled over from balance {balance.pk}",
            rolled_over_from=balance,
        )
        entries.append(
            _entry(balance, EntryKind.ROLLOVER, -rolled, as_of, actor=actor, memo=f"into balance {successor.pk}")
        )
    if left - rolled > 0:
        entries.append(_entry(balance, EntryKind.EXPIRY, -(left - rolled), as_of, actor=actor))
    return entries


@transaction.atomic
def balance_adjust(
    *, balance: Balance, amount: Decimal, as_of: dt.datetime, actor: AbstractBaseUser | None, reason: str
) -> LedgerEntry:
    """A manual correction, up or down; a reduction never takes the balance below zero."""
    if not reason.strip():
        raise ValidationError("a manual adjustment needs a reason", field="reason")
    if amount == 0:
        raise ValidationError("an adjustment of 0 changes nothing", field="amount")
    balance = Balance.objects.select_for_update().get(pk=balance.pk)
    if amount < 0 and remaining(balance) + amount < 0:
        raise ValidationError(
            f"the balance holds {remaining(balance)}; it cannot go below zero", code="overdraw", field="amount"
        )
    return _entry(balance, EntryKind.ADJUSTMENT, amount, as_of, actor=actor, memo=reason)


@transaction.atomic
def balance_void(*, balance: Balance, as_of: dt.datetime, actor: AbstractBaseUser | None, reason: str) -> LedgerEntry:
    """Cancel what is left of a grant (e.g. granted by mistake). What was drawn stays drawn."""
    if not reason.strip():
        raise ValidationError("voiding needs a reason", field="reason")
    balance = Balance.objects.select_for_update().get(pk=balance.pk)
    left = remaining(balance)
    if left <= 0:
        raise Conflict("nothing is left to void", code="nothing_left")
    return _entry(balance, EntryKind.VOID, -left, as_of, actor=actor, memo=reason)
