"""Move many contracts to another rate card version in one action, after previewing each one's price impact.

The preview prices each contract's last complete period twice, with its current prices and with the
target version, on that period's real usage. The usage comes from the caller (`usage_for`), since
usage is measured by a higher app (dependency direction: catalog <- contracts <- usage).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from catalog.models import RateCardVersion, VersionStatus
from contracts.models import Contract, ContractStatus
from contracts.selectors import contract_period, contract_preview
from revops.errors import ValidationError
from revops.history import stamp
from revops.periods import Period

UsageFor = Callable[[Contract, Period], dict]


@dataclass(frozen=True)
class MigrationImpact:
    contract: Contract
    period: Period
    before: Decimal
    after: Decimal

    @property
    def difference(self) -> Decimal:
        return self.after - self.before

    @property
    def percent(self) -> Decimal | None:
        return None if not self.before else (self.difference / self.before * 100).quantize(Decimal("0.1"))


def last_complete_period(contract: Contract, today: dt.date) -> Period:
    current = contract_period(contract, today)
    return contract_period(contract, current.start - dt.timedelta(days=1))


def _check_target(contracts: Sequence[Contract], to_version: RateCardVersion) -> None:
    to_version = RateCardVersion.objects.select_related("rate_card").get(pk=to_version.pk)
    if to_version.status != VersionStatus.ACTIVE:
        raise ValidationError("contracts can move only to an active version", field="to_version")
    for contract in contracts:
        if contract.currency != to_version.rate_card.currency:
            raise ValidationError(
                f"{contract} is in {contract.currency}; {to_version.rate_card.code} prices in "
                f"{to_version.rate_card.currency}",
                code="currency_mismatch",
                field="to_version",
            )


def contract_migration_preview(
    *, contracts: Sequence[Contract], to_version: RateCardVersion, today: dt.date, usage_for: UsageFor
) -> list[MigrationImpact]:
    """Each contract's last complete period, priced now and priced on `to_version`. Nothing is written."""
    _check_target(contracts, to_version)
    impacts = []
    for contract in contracts:
        period = last_complete_period(contract, today)
        usage = usage_for(contract, period)
        before = sum(
            (line.amount for line in contract_preview(contract=contract, period=period, usage=usage)), Decimal(0)
        )
        after = sum(
            (
                line.amount
                for line in contract_preview(contract=contract, period=period, usage=usage, card_version=to_version)
            ),
            Decimal(0),
        )
        impacts.append(MigrationImpact(contract, period, before, after))
    return impacts


@transaction.atomic
def contract_migrate(
    *, contracts: Sequence[Contract], to_version: RateCardVersion, actor: AbstractBaseUser | None, reason: str
) -> list[Contract]:
    """Pin every contract to `to_version` (all or none). Ended contracts are refused."""
    if not reason.strip():
        raise ValidationError("a migration needs a reason", field="reason")
    _check_target(contracts, to_version)
    moved = []
    for contract in Contract.objects.select_for_update().filter(pk__in=[c.pk for c in contracts]).order_by("pk"):
        if contract.status == ContractStatus.ENDED:
            raise ValidationError(f"{contract} has ended; it cannot move", code="contract_ended", field="contracts")
        contract.rate_card = to_version.rate_card
        contract.pinned_version = to_version
        stamp(contract, actor=actor, reason=reason)
        contract.save()
        moved.append(contract)
    return moved
