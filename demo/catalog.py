"""Lumora AI's catalog: metrics over its product's events, products, and rate cards using every price model."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from django.contrib.auth.models import AbstractBaseUser

from catalog.models import BillableMetric, Product, RateCard
from catalog.services import metrics, products, rate_cards

METRICS = [
    # code, name, event_type, aggregation, property, group_by, time_unit, unit
    ("llm_tokens", "LLM tokens", "llm.completion", "sum", "tokens", ["model"], "", "tokens"),
    ("api_calls", "API calls", "api.request", "count", "", ["endpoint"], "", "calls"),
    ("storage_gb_hours", "Vector storage", "storage.level", "time_weighted_sum", "gb", [], "hour", "GB-hours"),
    ("active_users", "Monthly active users", "user.active", "unique_count", "user_id", [], "", "users"),
    ("gpu_peak", "Peak concurrent GPUs", "gpu.concurrency", "max", "gpus", [], "", "GPUs"),
    ("fine_tune_jobs", "Fine-tuning jobs", "finetune.completed", "count", "", [], "", "jobs"),
    ("payout_volume", "Marketplace payout volume", "marketplace.payout", "sum", "amount", [], "", "USD"),
    ("ai_credits", "AI credits", "credits.consumed", "sum", "credits", [], "", "credits"),
]

PRODUCTS = [
    # code, name, kind, metric, timing, unit, product line
    ("platform-seat", "Platform seat", "subscription", None, "in_advance", "seat", "platform"),
    ("platform-fee", "Platform fee", "recurring_fee", None, "in_advance", "", "platform"),
    ("onboarding", "Onboarding package", "one_time", None, "in_advance", "", "services"),
    ("llm-tokens", "LLM tokens", "usage", "llm_tokens", "in_arrears", "", "ai"),
    ("api-calls", "API calls", "usage", "api_calls", "in_arrears", "", "platform"),
    ("vector-storage", "Vector storage", "usage", "storage_gb_hours", "in_arrears", "", "data"),
    ("active-users", "Active end users", "usage", "active_users", "in_arrears", "", "platform"),
    ("gpu-capacity", "Reserved GPU capacity", "usage", "gpu_peak", "in_arrears", "", "ai"),
    ("fine-tuning", "Fine-tuning jobs", "usage", "fine_tune_jobs", "in_arrears", "", "ai"),
    ("marketplace-fees", "Marketplace fees", "usage", "payout_volume", "in_arrears", "", "marketplace"),
    ("ai-credits", "AI credits", "usage", "ai_credits", "in_arrears", "", "ai"),
]


def _standard_prices(scale: D) -> list[tuple[str, dict, list[dict], str, str]]:
    """(product, values, tiers, group_key, group_value) for a standard card; `scale` moves list prices."""

    def m(value: str) -> D:
        return (D(value) * scale).quantize(D("0.000000000001")).normalize()

    return [
        ("platform-seat", {"model": "per_unit", "unit_price": m("40")}, [], "", ""),
        ("platform-fee", {"model": "flat", "flat_amount": m("500")}, [], "", ""),
        ("onboarding", {"model": "flat", "flat_amount": m("2500")}, [], "", ""),
        ("llm-tokens", {"model": "per_unit", "unit_price": m("0.000002")}, [], "model", "lumen-small"),
        ("llm-tokens", {"model": "per_unit", "unit_price": m("0.00001")}, [], "model", "lumen-large"),
        ("llm-tokens", {"model": "per_unit", "unit_price": m("0.000004")}, [], "model", ""),
        (
            "api-calls",
            {"model": "graduated", "included_units": D(10000)},
            [
                {"start": D(0), "up_to": D(100000), "unit_price": m("0.002"), "flat_fee": D(0)},
                {"start": D(100000), "up_to": D(1000000), "unit_price": m("0.0015"), "flat_fee": D(0)},
                {"start": D(1000000), "up_to": None, "unit_price": m("0.001"), "flat_fee": D(0)},
            ],
            "",
            "",
        ),
        (
            "vector-storage",
            {"model": "volume"},
            [
                {"start": D(0), "up_to": D(10000), "unit_price": m("0.0004"), "flat_fee": D(0)},
                {"start": D(10000), "up_to": D(100000), "unit_price": m("0.0003"), "flat_fee": m("5")},
                {"start": D(100000), "up_to": None, "unit_price": m("0.0002"), "flat_fee": m("20")},
            ],
            "",
            "",
        ),
        ("active-users", {"model": "package", "package_size": D(100), "package_price": m("25")}, [], "", ""),
        ("gpu-capacity", {"model": "per_unit", "unit_price": m("900"), "minimum_charge": m("900")}, [], "", ""),
        (
            "fine-tuning",
            {"model": "package", "package_size": D(5), "package_price": m("150"), "package_rounding": "up"},
            [],
            "",
            "",
        ),
        (
            "marketplace-fees",
            {"model": "percentage", "percentage": D("2.9"), "fixed_fee_per_event": m("0.30")},
            [],
            "",
            "",
        ),
        ("ai-credits", {"model": "per_unit", "unit_price": m("0.01"), "included_units": D(1000)}, [], "", ""),
    ]


RATE_CARDS = [
    # code, name, currency, price scale
    ("standard-usd", "Standard (USD)", "USD", D("1")),
    ("standard-eur", "Standard (EUR)", "EUR", D("0.92")),
    ("standard-gbp", "Standard (GBP)", "GBP", D("0.79")),
    ("standard-jpy", "Standard (JPY)", "JPY", D("150")),
]
V1_FROM = dt.date(2026, 8, 1)
V2_FROM = dt.date(2026, 11, 1)  # a price rise on seats and tokens
V3_FROM = dt.date(2027, 1, 1)  # proposed, still a draft


def load_catalog(*, actor: AbstractBaseUser | None, as_of: dt.datetime) -> list[RateCard]:
    for code, name, event_type, aggregation, prop, group_by, time_unit, unit in METRICS:
        if not BillableMetric.objects.filter(code=code).exists():
            metrics.metric_create(
                code=code,
                name=name,
                event_type=event_type,
                aggregation=aggregation,
                property=prop,
                group_by=group_by,
                time_unit=time_unit,
                unit_label=unit,
                actor=actor,
                reason="demo data",
            )
    for code, name, kind, metric_code, timing, unit, line in PRODUCTS:
        if not Product.objects.filter(code=code).exists():
            metric = BillableMetric.objects.get(code=metric_code) if metric_code else None
            products.product_create(
                code=code,
                name=name,
                kind=kind,
                metric=metric,
                billing_timing=timing,
                unit_label=unit,
                product_line=line,
                actor=actor,
                reason="demo data",
            )
    cards = []
    for code, name, currency, scale in RATE_CARDS:
        card = RateCard.objects.filter(code=code).first()
        if card is None:
            card = rate_cards.rate_card_create(code=code, name=name, currency=currency, actor=actor, reason="demo data")
            _version(card, V1_FROM, _standard_prices(scale), actor, as_of, "launch prices", activate=True)
            _version(card, V2_FROM, _standard_prices(scale * D("1.10")), actor, as_of, "10% rise", activate=True)
            _version(
                card, V3_FROM, _standard_prices(scale * D("1.15")), actor, as_of, "proposed 2027 prices", activate=False
            )
        cards.append(card)
    return cards


def _version(card, effective_from, prices, actor, as_of, notes, *, activate: bool):
    version = rate_cards.rate_card_version_create(
        rate_card=card, effective_from=effective_from, copy_prices=False, notes=notes, actor=actor, reason="demo data"
    )
    for product_code, values, tiers, group_key, group_value in prices:
        rate_cards.price_set(
            version=version,
            product=Product.objects.get(code=product_code),
            values=values,
            tiers=tiers,
            group_key=group_key,
            group_value=group_value,
            actor=actor,
            reason="demo data",
        )
    if activate:
        rate_cards.rate_card_version_activate(version=version, actor=actor, as_of=as_of, reason="demo data")
    return version
