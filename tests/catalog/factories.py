"""Catalog test data built through the services, as users would build it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from catalog.services import metrics, products, rate_cards

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def tokens_metric(code: str = "tokens"):
    return metrics.metric_create(
        code=code,
        name="AI tokens",
        event_type="llm.completion",
        aggregation="sum",
        property="tokens",
        group_by=["model"],
        unit_label="tokens",
        actor=None,
    )


def usage_product(metric, code: str = "ai-tokens"):
    return products.product_create(code=code, name="AI tokens", kind="usage", metric=metric, actor=None)


def seat_product(code: str = "seat"):
    return products.product_create(code=code, name="Platform seat", kind="subscription", unit_label="seat", actor=None)


def rate_card(code: str = "standard", currency: str = "USD"):
    return rate_cards.rate_card_create(code=code, name=f"{code.title()} {currency}", currency=currency, actor=None)


def per_unit(unit_price: str, **extra) -> dict:
    return {"model": "per_unit", "unit_price": Decimal(unit_price), **extra}


def graduated_tiers() -> list[dict]:
    return [
        {"start": Decimal(0), "up_to": Decimal(1000), "unit_price": Decimal("0.10")},
        {"start": Decimal(1000), "up_to": None, "unit_price": Decimal("0.05")},
    ]
