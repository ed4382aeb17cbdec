"""The money impact of pricing changes awaiting approval, priced on each contract's last complete period.

Usage is measured here, so this app prices changes that lower apps own (the dependency turned around,
as for contract migrations): a rate card version's activation (every contract following the card, its
last period now and on the new version), a contract amendment (its last period with the current terms
and with the new ones), a bulk migration (each contract now and on the target version).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from catalog.models import RateCardVersion
from contracts.models import Contract, ContractStatus
from contracts.selectors import contract_preview, contract_version_on
from contracts.services.approvals import terms_from_json
from contracts.services.contracts import Terms, _write_terms, terms_amended, terms_of
from contracts.services.migrations import last_complete_period
from revops.approvals import registry
from revops.approvals.models import ActionKind
from revops.approvals.registry import money_text
from revops.errors import DomainError
from revops.money import ZERO
from usage.selectors import contract_usage_quantities


def _total(contract: Contract, period, usage, card_version=None) -> Decimal:
    return sum(
        (
            line.amount
            for line in contract_preview(contract=contract, period=period, usage=usage, card_version=card_version)
        ),
        ZERO,
    )


class _WhatIf(Exception):
    def __init__(self, amount: Decimal) -> None:
        self.amount = amount


def _total_with_terms(contract: Contract, period, usage, terms: Terms) -> Decimal:
    """The period priced as if `terms` had held then: written into the period's version, priced, rolled back."""
    version = contract_version_on(contract, period.start) or contract.versions.order_by("number").first()
    merged = terms_amended(terms_of(version), terms)
    try:
        with transaction.atomic():
            for related in (version.overrides, version.included_usage, version.minimums, version.trials):
                related.all().delete()
            _write_terms(version, merged, actor=None, reason="impact preview (rolled back)")
            raise _WhatIf(_total(contract, period, usage))
    except _WhatIf as what_if:
        return what_if.amount


def _rows(contracts, today: dt.date, after_of, currency: str) -> dict[str, Any]:
    rows = []

    def plain(amount: Decimal) -> str:
        return money_text(amount, currency)

    before_sum = after_sum = ZERO
    for contract in contracts:
        period = last_complete_period(contract, today)
        if period.start < contract.start_date:
            continue  # no complete period yet: nothing to price
        row = {
            "contract": contract.pk,
            "customer": contract.customer.external_id,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
        }
        try:
            usage = contract_usage_quantities(contract, period)
            before = _total(contract, period, usage)
            after = after_of(contract, period, usage)
        except DomainError as exc:
            rows.append({**row, "error": exc.message})
            continue
        before_sum += before
        after_sum += after
        rows.append({**row, "before": plain(before), "after": plain(after), "difference": plain(after - before)})
    return {
        "currency": currency,
        "rows": rows,
        "before": plain(before_sum),
        "after": plain(after_sum),
        "difference": plain(after_sum - before_sum),
    }


def activation_impact(payload: dict[str, Any], today: dt.date) -> dict[str, Any]:
    version = RateCardVersion.objects.select_related("rate_card").get(pk=payload["version_id"])
    following = Contract.objects.filter(
        rate_card=version.rate_card, pinned_version__isnull=True, status=ContractStatus.ACTIVE
    ).select_related("customer", "rate_card")
    return _rows(
        following.order_by("pk"),
        today,
        lambda c, p, u: _total(c, p, u, card_version=version),
        version.rate_card.currency,
    )


def amendment_impact(payload: dict[str, Any], today: dt.date) -> dict[str, Any]:
    contract = Contract.objects.select_related("customer", "rate_card").get(pk=payload["contract_id"])
    terms = terms_from_json(payload["terms"])
    return _rows([contract], today, lambda c, p, u: _total_with_terms(c, p, u, terms), contract.currency)


def migration_impact(payload: dict[str, Any], today: dt.date) -> dict[str, Any]:
    version = RateCardVersion.objects.select_related("rate_card").get(pk=payload["version_id"])
    contracts = Contract.objects.filter(pk__in=payload["contract_ids"]).select_related("customer", "rate_card")
    return _rows(
        contracts.order_by("pk"),
        today,
        lambda c, p, u: _total(c, p, u, card_version=version),
        version.rate_card.currency,
    )


registry.register_impact(ActionKind.VERSION_ACTIVATE, activation_impact)
registry.register_impact(ActionKind.CONTRACT_AMEND, amendment_impact)
registry.register_impact(ActionKind.CONTRACT_MIGRATE, migration_impact)
