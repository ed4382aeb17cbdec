"""Contracts for the demo customers: together they use every kind of term.

Most customers follow their currency's standard card; one is grandfathered on the launch prices;
others carry included usage, discounts, a prepaid commitment with rollover, a minimum spend, a
trial, credit grants, an amendment and mid-period seat changes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from catalog.models import Product, RateCard
from contracts.models import Contract, Customer
from contracts.services import balances
from contracts.services import contracts as svc
from demo.customers import demo_ids

START = dt.date(2026, 8, 1)


def _product(code: str) -> Product:
    return Product.objects.get(code=code)


def _terms(external_id: str) -> tuple[svc.Terms, list[tuple[Product, D]]]:
    """Terms and starting subscriptions per demo customer (everyone else: seats and the platform fee)."""
    seat, fee = _product("platform-seat"), _product("platform-fee")
    special = {
        "acme-robotics": (
            svc.Terms(included_usage=[(_product("ai-credits"), D(1000))], minimum_spend=D(2000)),
            [(seat, D(25)), (fee, D(1))],
        ),
        "cobalt-legal": (
            svc.Terms(overrides=[svc.OverrideSpec("discount", None, discount_percent=D(15))]),
            [(seat, D(40)), (fee, D(1))],
        ),
        "driftwood-media": (svc.Terms(trial=(dt.date(2026, 8, 31), False)), [(seat, D(5))]),
        "evergreen-bank": (
            svc.Terms(
                overrides=[
                    svc.OverrideSpec(
                        "replace",
                        _product("api-calls"),
                        price={"model": "per_unit", "unit_price": "0.0012", "included_units": "50000"},
                    )
                ],
                minimum_spend=D(5000),
            ),
            [(seat, D(120)), (fee, D(1))],
        ),
        "helix-bio": (svc.Terms(included_usage=[(_product("llm-tokens"), D(2_000_000))]), [(seat, D(18))]),
        "quartz-security": (
            svc.Terms(overrides=[svc.OverrideSpec("multiplier", _product("platform-seat"), multiplier=D("0.8"))]),
            [(seat, D(60))],
        ),
    }
    return special.get(external_id, (svc.Terms(), [(seat, D(8)), (fee, D(1))]))


def load_contracts(*, actor, as_of: dt.datetime) -> list[Contract]:
    made = []
    cards = {card.currency: card for card in RateCard.objects.filter(code__startswith="standard-")}
    for customer in Customer.objects.filter(external_id__in=demo_ids()).order_by("external_id"):
        if customer.contracts.exists():
            made.append(customer.contracts.first())
            continue
        card = cards[customer.currency]
        terms, subscriptions = _terms(customer.external_id)
        pinned = card.versions.get(number=1) if customer.external_id == "bluepeak-health" else None
        cadence = "annual" if customer.external_id == "evergreen-bank" else "monthly"
        contract = svc.contract_create(
            customer=customer,
            rate_card=card,
            start_date=START,
            cadence=cadence,
            pinned_version=pinned,
            terms=terms,
            subscriptions=subscriptions,
            actor=actor,
            reason="demo data",
            name=f"{customer.name} — {'grandfathered launch prices' if pinned else card.name}",
        )
        svc.contract_activate(contract=contract, actor=actor, reason="demo data")
        made.append(contract)
        _extras(customer.external_id, contract, actor=actor, as_of=as_of)
    return made


def _extras(external_id: str, contract: Contract, *, actor, as_of: dt.datetime) -> None:
    """Commitments, credits, amendments and seat changes for a few of the customers."""
    if external_id == "cobalt-legal":
        balances.balance_grant(
            contract=contract,
            kind="commit",
            amount=D(12000),
            starts_on=START,
            expires_on=dt.date(2027, 8, 1),
            rollover_fraction=D("0.25"),
            as_of=as_of,
            actor=actor,
            name="Annual prepaid commitment",
            reason="demo data",
        )
    if external_id == "acme-robotics":
        balances.balance_grant(
            contract=contract,
            kind="credit",
            amount=D(500),
            starts_on=START,
            expires_on=dt.date(2026, 12, 31),
            priority=10,
            as_of=as_of,
            actor=actor,
            name="Goodwill credit (October outage)",
            reason="demo data",
        )
        svc.subscription_change(
            contract=contract,
            product=_product("platform-seat"),
            quantity=D(32),
            effective_date=dt.date(2026, 10, 17),
            actor=actor,
            reason="demo: team grew",
        )
    if external_id == "helix-bio":
        balances.balance_grant(
            contract=contract,
            kind="credit",
            amount=D(250),
            starts_on=START,
            expires_on=dt.date(2027, 2, 1),
            product=_product("llm-tokens"),
            as_of=as_of,
            actor=actor,
            name="Promotional token credit",
            reason="demo data",
        )
    if external_id == "quartz-security":
        svc.contract_amend(
            contract=contract,
            effective_from=dt.date(2026, 10, 1),
            actor=actor,
            reason="demo: renewal with a deeper seat discount",
            terms=svc.Terms(overrides=[svc.OverrideSpec("multiplier", _product("platform-seat"), multiplier=D("0.7"))]),
        )
