"""Reads made once for a batch of contracts instead of once per contract (a period-close chunk).

Inside `contracts_prefetched(contracts)`, the selectors that price a contract (its terms, subscription
changes, card version and the card's price specs) and usage's period totals read what was loaded for the
whole batch. Outside such a block nothing is cached and every read goes to the database as before.

The batch lives for one chunk (seconds): what it holds is what the database held when the chunk began,
which is what a run that started then would read anyway.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch

from contracts.models import (
    Balance,
    Contract,
    ContractVersion,
    Customer,
    IncludedUsage,
    MinimumSpend,
    PriceOverride,
    SubscriptionChange,
    Trial,
)


@dataclass
class Batch:
    contract_ids: set[int]
    customer_ids: list[int]
    _versions: dict[int, list[ContractVersion]] | None = None
    _changes: dict[int, list[SubscriptionChange]] | None = None
    _with_balances: set[int] | None = None
    _customers: dict[int, Customer] | None = None
    memo: dict[Any, Any] = field(default_factory=dict)  # what selectors worked out once for the batch
    # In a period close: contract id -> the period its invoice is being made for. Reads about that period
    # (earlier invoices, off-cycle ones) are then made once for every contract of the batch.
    periods: dict[int, Any] = field(default_factory=dict)

    def versions(self, contract_id: int) -> list[ContractVersion]:
        """The contract's term versions, by number, with their overrides, allowances, trials and minimums."""
        if self._versions is None:
            self._versions = {pk: [] for pk in self.contract_ids}
            rows = (
                ContractVersion.objects.filter(contract_id__in=self.contract_ids)
                .order_by("contract_id", "number")
                .prefetch_related(
                    Prefetch("overrides", queryset=PriceOverride.objects.order_by("pk")),
                    Prefetch("included_usage", queryset=IncludedUsage.objects.order_by("pk")),
                    Prefetch("trials", queryset=Trial.objects.order_by("pk")),
                    Prefetch("minimums", queryset=MinimumSpend.objects.order_by("pk")),
                )
            )
            for version in rows:
                self._versions[version.contract_id].append(version)
        return self._versions[contract_id]

    def changes(self, contract_id: int) -> list[SubscriptionChange]:
        """The contract's subscription changes with their products, by product, date and entry."""
        if self._changes is None:
            self._changes = {pk: [] for pk in self.contract_ids}
            rows = (
                SubscriptionChange.objects.filter(contract_id__in=self.contract_ids)
                .select_related("product")
                .order_by("product_id", "effective_date", "pk")
            )
            for change in rows:
                self._changes[change.contract_id].append(change)
        return self._changes[contract_id]

    def has_balances(self, contract_id: int) -> bool:
        """Whether the contract has any commitment or credit (most have none: their invoices skip those reads)."""
        if self._with_balances is None:
            rows = Balance.objects.filter(contract_id__in=self.contract_ids).values_list("contract_id", flat=True)
            self._with_balances = set(rows)
        return contract_id in self._with_balances

    def customer(self, customer_id: int) -> Customer:
        """The customer as stored when the batch first asked (tax settings, for one)."""
        if self._customers is None:
            self._customers = Customer.objects.in_bulk(self.customer_ids)
        return self._customers[customer_id]

    def remember(self, key: Any, load: Callable[[], Any]) -> Any:
        """What `load()` returns, called the first time `key` is asked for in this batch."""
        if key not in self.memo:
            self.memo[key] = load()
        return self.memo[key]

    def for_period(self, contract_id: int, period: Any, key: str, load: Callable[[Batch], Any]) -> Any:
        """What `load(batch)` reads once for all the batch's periods, if the batch is making `period`'s
        invoice of the contract; None otherwise (the caller then reads for the contract alone)."""
        if self.periods.get(contract_id) != period:
            return None
        return self.remember(key, lambda: load(self))


_batch: contextvars.ContextVar[Batch | None] = contextvars.ContextVar("contracts_batch", default=None)


@contextlib.contextmanager
def contracts_prefetched(contracts: Iterable[Contract], periods: dict[int, Any] | None = None) -> Iterator[Batch]:
    contracts = list(contracts)
    batch = Batch({c.pk for c in contracts}, sorted({c.customer_id for c in contracts}), periods=periods or {})
    token = _batch.set(batch)
    try:
        yield batch
    finally:
        _batch.reset(token)


def batch_for(contract: Contract) -> Batch | None:
    """The batch that holds `contract`, if a block for it is open."""
    batch = _batch.get()
    return batch if batch is not None and contract.pk in batch.contract_ids else None
