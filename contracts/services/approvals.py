"""Contract changes that need approval: discounts beyond policy, large credit grants, bulk migrations.

Each `*_propose` service is what the admin and the API call. It checks the change exactly as the real
service would (a dry run, rolled back), then either makes it at once (within policy) or asks for
approval and returns the pending `ApprovalRequest`. On approval the workflow runs the real service
(`contract_amend`, `balance_grant`, `contract_migrate`) with the stored payload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from catalog import guardrails, specs
from catalog.models import Product, RateCard, RateCardVersion
from catalog.selectors import version_effective_on
from contracts.models import BalanceKind, Contract, Customer, OverrideKind
from contracts.services.balances import balance_grant
from contracts.services.contracts import OverrideSpec, Terms, _jsonable, contract_amend, contract_create, terms_of
from contracts.services.migrations import contract_migrate
from revops.approvals import registry
from revops.approvals.models import ActionKind, GuardrailMode
from revops.approvals.policy import above_threshold, policy_get
from revops.approvals.registry import money_text
from revops.approvals.services import dry_run, request_submit
from revops.errors import ValidationError
from revops.money import plain

# --- terms as JSON (a request's payload outlives the request that made it) ------------------------------


def terms_to_json(terms: Terms) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if terms.overrides is not None:
        out["overrides"] = [
            {
                "kind": o.kind,
                "product": o.product.code if o.product else None,
                "multiplier": None if o.multiplier is None else plain(o.multiplier),
                "discount_percent": None if o.discount_percent is None else plain(o.discount_percent),
                "price": _jsonable(o.price),
            }
            for o in terms.overrides
        ]
    if terms.included_usage is not None:
        out["included_usage"] = [[p.code, plain(q)] for p, q in terms.included_usage]
    if terms.minimum_spend is not None:
        out["minimum_spend"] = plain(terms.minimum_spend)
    if terms.trial is not None:
        out["trial"] = [terms.trial[0].isoformat(), terms.trial[1]]
    for flag in ("remove_minimum", "remove_trial"):
        if getattr(terms, flag):
            out[flag] = True
    return out


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def terms_from_json(data: dict[str, Any]) -> Terms:
    products = {p.code: p for p in Product.objects.all()}
    overrides = data.get("overrides")
    included = data.get("included_usage")
    trial = data.get("trial")
    return Terms(
        overrides=None
        if overrides is None
        else [
            OverrideSpec(
                kind=o["kind"],
                product=products[o["product"]] if o["product"] else None,
                multiplier=_decimal(o["multiplier"]),
                discount_percent=_decimal(o["discount_percent"]),
                price=o["price"],
            )
            for o in overrides
        ],
        included_usage=None if included is None else [(products[code], Decimal(q)) for code, q in included],
        minimum_spend=_decimal(data.get("minimum_spend")),
        trial=None if trial is None else (dt.date.fromisoformat(trial[0]), trial[1]),
        remove_minimum=bool(data.get("remove_minimum")),
        remove_trial=bool(data.get("remove_trial")),
    )


# --- discounts ------------------------------------------------------------------------------------------


def override_discount(override: OverrideSpec, card_version: RateCardVersion | None) -> Decimal | None:
    """The percentage an override takes off the card's price; None when it cannot be told (a replacement
    price in another shape than the card's, or a product the card does not price): such needs approval."""
    if override.kind == OverrideKind.DISCOUNT:
        return override.discount_percent
    if override.kind == OverrideKind.MULTIPLIER:
        return (1 - override.multiplier) * 100
    if card_version is None or override.product is None or not isinstance(override.price, dict):
        return None
    card_price = card_version.prices.filter(product=override.product, group_key="").first()
    if card_price is None:
        return None
    try:
        values = {k: v for k, v in override.price.items() if k != "tiers"}
        new = specs.spec_from_values(
            {**values, "currency": card_version.rate_card.currency}, override.price.get("tiers") or []
        )
    except (ValueError, ArithmeticError, TypeError, KeyError):
        return None
    change = guardrails.change_percent(specs.spec_for_price(card_price), new)
    return None if change is None else -change


def discounts_beyond_policy(contract: Contract, terms: Terms, on: dt.date) -> list[tuple[str, str]]:
    """(field, message) for each override taking more off than the policy's maximum discount."""
    card_version = contract.pinned_version or version_effective_on(rate_card=contract.rate_card, day=on)
    return _beyond(terms, card_version)


def _beyond(terms: Terms, card_version: RateCardVersion | None) -> list[tuple[str, str]]:
    limit = policy_get().max_discount_percent
    out = []
    for index, override in enumerate(terms.overrides or ()):
        what = override.product.code if override.product else "the whole card"
        field = {"discount": "discount_percent", "multiplier": "multiplier"}.get(override.kind, "price")
        discount = override_discount(override, card_version)
        if discount is None:
            out.append((f"overrides.{index}.{field}", f"a replacement price for {what} that cannot be compared"))
        elif discount > limit:
            out.append(
                (
                    f"overrides.{index}.{field}",
                    f"{plain(discount.quantize(Decimal('0.01')))}% off {what} is above the maximum discount of "
                    f"{plain(limit)}%",
                )
            )
    return out


def _blocked(beyond: list[tuple[str, str]]) -> None:
    if policy_get().guardrail_mode == GuardrailMode.BLOCK:
        raise ValidationError(
            "the discount is above the policy's maximum",
            code="discount_above_maximum",
            fields={f"terms.{field}": [message] for field, message in beyond},
        )


@transaction.atomic
def contract_create_propose(*, customer: Customer, rate_card: RateCard, start_date: dt.date, actor, as_of, **fields):
    """Sign at once within the discount policy; beyond it, ask for approval (or refuse, when the policy blocks).
    Takes `contract_create`'s arguments; returns the Contract, or the pending ApprovalRequest."""
    arguments = {"customer": customer, "rate_card": rate_card, "start_date": start_date, **fields}
    dry_run(contract_create, actor=actor, **arguments)
    terms = fields.get("terms") or Terms()
    pinned = fields.get("pinned_version")
    card_version = pinned or version_effective_on(rate_card=rate_card, day=start_date)
    beyond = _beyond(terms, card_version)
    if not beyond:
        return contract_create(actor=actor, **arguments)
    _blocked(beyond)
    after = terms_to_json(terms)
    payload = {
        "customer_id": customer.pk,
        "rate_card_id": rate_card.pk,
        "start_date": start_date.isoformat(),
        "card_version_id": card_version.pk if card_version else None,
        "terms": after,
        "subscriptions": [[p.code, plain(q)] for p, q in fields.get("subscriptions", ())],
        **{
            name: (value.isoformat() if isinstance(value, dt.date) else value)
            for name, value in fields.items()
            if name in ("cadence", "billing_anchor", "end_date", "proration", "name") and value is not None
        },
        "pinned_version_id": pinned.pk if pinned else None,
    }
    return request_submit(
        kind=ActionKind.CONTRACT_CREATE,
        target=customer,
        target_label=f"new contract for {customer.external_id} on {rate_card.code} from {start_date}",
        payload=payload,
        diff=[{"item": "new contract", "field": name, "before": None, "after": value} for name, value in after.items()],
        impact={"currency": rate_card.currency, "rows": []},
        actor=actor,
        reason=fields.get("reason") or "contract signed",
        effective_date=as_of.date(),
        as_of=as_of,
        escalation="; ".join(message for _, message in beyond),
    )


def _create_snapshot(payload: dict[str, Any]) -> dict[str, Any]:
    card = RateCard.objects.get(pk=payload["rate_card_id"])
    in_effect = version_effective_on(rate_card=card, day=dt.date.fromisoformat(payload["start_date"]))
    return {"card_version_id": payload["pinned_version_id"] or (in_effect.pk if in_effect else None)}


def _create_apply(payload: dict[str, Any], *, actor, as_of: dt.datetime, reason: str) -> str:
    dates = {name: dt.date.fromisoformat(payload[name]) for name in ("billing_anchor", "end_date") if name in payload}
    contract = contract_create(
        customer=Customer.objects.get(pk=payload["customer_id"]),
        rate_card=RateCard.objects.get(pk=payload["rate_card_id"]),
        start_date=dt.date.fromisoformat(payload["start_date"]),
        pinned_version=RateCardVersion.objects.get(pk=payload["pinned_version_id"])
        if payload["pinned_version_id"]
        else None,
        terms=terms_from_json(payload["terms"]),
        subscriptions=[(Product.objects.get(code=code), Decimal(q)) for code, q in payload["subscriptions"]],
        actor=actor,
        reason=reason,
        **{name: payload[name] for name in ("cadence", "proration", "name") if name in payload},
        **dates,
    )
    return f"contract {contract.pk} signed: {contract}"


@transaction.atomic
def contract_amend_propose(
    *,
    contract: Contract,
    effective_from: dt.date,
    actor: AbstractBaseUser | None,
    reason: str,
    terms: Terms,
    as_of: dt.datetime,
):
    """Amend at once within the discount policy; beyond it, ask for approval (or refuse, when the policy
    blocks). Returns the new ContractVersion, or the pending ApprovalRequest."""
    arguments = {"contract": contract, "effective_from": effective_from, "reason": reason, "terms": terms}
    dry_run(contract_amend, actor=actor, **arguments)
    beyond = discounts_beyond_policy(contract, terms, effective_from) if terms.overrides is not None else []
    if not beyond:
        return contract_amend(actor=actor, **arguments)
    _blocked(beyond)
    current = contract.versions.order_by("-number").first()
    before = terms_to_json(terms_of(current))
    after = terms_to_json(terms)
    diff = [
        {"item": f"contract {contract.pk}", "field": name, "before": before.get(name), "after": after[name]}
        for name in after
        if before.get(name) != after[name]
    ]
    return request_submit(
        kind=ActionKind.CONTRACT_AMEND,
        target=contract,
        target_label=f"{contract} from {effective_from}",
        payload={
            "contract_id": contract.pk,
            "effective_from": effective_from.isoformat(),
            "terms": after,
            "latest_version": current.number,
        },
        diff=diff,
        actor=actor,
        reason=reason,
        effective_date=as_of.date(),
        as_of=as_of,
        escalation="; ".join(message for _, message in beyond),
    )


def _amend_snapshot(payload: dict[str, Any]) -> dict[str, Any]:
    contract = Contract.objects.get(pk=payload["contract_id"])
    return {"status": contract.status, "latest_version": contract.versions.order_by("-number").first().number}


def _amend_apply(payload: dict[str, Any], *, actor, as_of: dt.datetime, reason: str) -> str:
    version = contract_amend(
        contract=Contract.objects.get(pk=payload["contract_id"]),
        effective_from=dt.date.fromisoformat(payload["effective_from"]),
        terms=terms_from_json(payload["terms"]),
        actor=actor,
        reason=reason,
    )
    return f"{version.contract} v{version.number} takes effect on {version.effective_from}"


# --- credit grants --------------------------------------------------------------------------------------


@transaction.atomic
def balance_grant_propose(*, contract: Contract, kind: str, amount: Decimal, as_of: dt.datetime, actor, **fields):
    """Grant at once, unless it is a credit above the policy's threshold for the contract's currency: then
    ask for approval. Returns the Balance, or the pending ApprovalRequest."""
    arguments = {"contract": contract, "kind": kind, "amount": amount, **fields}
    dry_run(balance_grant, as_of=as_of, actor=actor, **arguments)
    if kind != BalanceKind.CREDIT or not above_threshold(
        policy_get().credit_grant_thresholds, contract.currency, amount
    ):
        return balance_grant(as_of=as_of, actor=actor, **arguments)
    product = fields.get("product")
    payload = {
        "contract_id": contract.pk,
        "kind": kind,
        "amount": plain(amount),
        "starts_on": fields["starts_on"].isoformat(),
        "expires_on": fields["expires_on"].isoformat(),
        "priority": fields.get("priority", 100),
        "product": product.code if product else None,
        "name": fields.get("name", ""),
        "reason": fields.get("reason", ""),
    }
    return request_submit(
        kind=ActionKind.CREDIT_GRANT,
        target=contract,
        target_label=f"credit of {plain(amount)} {contract.currency} to {contract}",
        payload=payload,
        diff=[{"item": f"contract {contract.pk}", "field": "credit granted", "before": None, "after": plain(amount)}],
        impact={
            "currency": contract.currency,
            "rows": [
                {
                    "customer": contract.customer.external_id,
                    "contract": contract.pk,
                    "difference": money_text(-amount, contract.currency),
                }
            ],
            "difference": money_text(-amount, contract.currency),
        },
        actor=actor,
        reason=fields.get("reason") or "credit grant",
        effective_date=as_of.date(),
        as_of=as_of,
    )


def _grant_snapshot(payload: dict[str, Any]) -> dict[str, Any]:
    return {"status": Contract.objects.get(pk=payload["contract_id"]).status}


def _grant_apply(payload: dict[str, Any], *, actor, as_of: dt.datetime, reason: str) -> str:
    product = Product.objects.get(code=payload["product"]) if payload["product"] else None
    balance = balance_grant(
        contract=Contract.objects.get(pk=payload["contract_id"]),
        kind=payload["kind"],
        amount=Decimal(payload["amount"]),
        starts_on=dt.date.fromisoformat(payload["starts_on"]),
        expires_on=dt.date.fromisoformat(payload["expires_on"]),
        priority=payload["priority"],
        product=product,
        name=payload["name"],
        reason=reason,
        as_of=as_of,
        actor=actor,
    )
    return f"granted {balance} (balance {balance.pk})"


# --- bulk migrations ------------------------------------------------------------------------------------


@transaction.atomic
def contract_migrate_propose(
    *, contracts: Sequence[Contract], to_version: RateCardVersion, actor, reason: str, as_of: dt.datetime
):
    """Move the contracts at once, or, when the policy says bulk migrations need approval, ask for it.
    Returns the moved contracts, or the pending ApprovalRequest."""
    dry_run(contract_migrate, contracts=contracts, to_version=to_version, actor=actor, reason=reason)
    if not policy_get().migration_needs_approval:
        return contract_migrate(contracts=contracts, to_version=to_version, actor=actor, reason=reason)
    to_version = RateCardVersion.objects.select_related("rate_card").get(pk=to_version.pk)
    target = f"{to_version.rate_card.code} v{to_version.number}"
    diff = [
        {
            "item": f"contract {c.pk} ({c.customer.external_id})",
            "field": "rate card version",
            "before": f"{c.rate_card.code} v{c.pinned_version.number}"
            if c.pinned_version
            else f"{c.rate_card.code} (follows)",
            "after": target,
        }
        for c in contracts
    ]
    return request_submit(
        kind=ActionKind.CONTRACT_MIGRATE,
        target=to_version,
        target_label=f"{len(contracts)} contract(s) to {target}",
        payload={"contract_ids": sorted(c.pk for c in contracts), "version_id": to_version.pk},
        diff=diff,
        actor=actor,
        reason=reason,
        effective_date=as_of.date(),
        as_of=as_of,
    )


def _migrate_snapshot(payload: dict[str, Any]) -> dict[str, Any]:
    rows = Contract.objects.filter(pk__in=payload["contract_ids"]).order_by("pk")
    return {str(c.pk): [c.rate_card_id, c.pinned_version_id, c.status] for c in rows}


def _migrate_apply(payload: dict[str, Any], *, actor, as_of: dt.datetime, reason: str) -> str:
    moved = contract_migrate(
        contracts=list(Contract.objects.filter(pk__in=payload["contract_ids"]).order_by("pk")),
        to_version=RateCardVersion.objects.get(pk=payload["version_id"]),
        actor=actor,
        reason=reason,
    )
    return f"moved {len(moved)} contract(s)"


registry.register(ActionKind.CONTRACT_CREATE, apply=_create_apply, snapshot=_create_snapshot)
registry.register(ActionKind.CONTRACT_AMEND, apply=_amend_apply, snapshot=_amend_snapshot)
registry.register(ActionKind.CREDIT_GRANT, apply=_grant_apply, snapshot=_grant_snapshot)
registry.register(ActionKind.CONTRACT_MIGRATE, apply=_migrate_apply, snapshot=_migrate_snapshot)
