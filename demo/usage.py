"""Three months of believable usage for the demo customers, sent through the ingestion service.

Each customer gets a size and a product mix; its events follow weekday rhythms and slow growth.
Transaction ids are deterministic, so a second load adds nothing (the events are duplicates).
"""

from __future__ import annotations

import datetime as dt
import random

from contracts.models import Customer
from demo.customers import demo_ids
from usage.models import UsageEvent
from usage.services import usage_events_ingest
from usage.tasks import build_missing_rollups

DAYS = 92  # default; REVOPS_DEMO_USAGE_DAYS shortens it (the tests load a few days)
MODELS = [("lumen-small", 0.6), ("lumen-large", 0.3), ("lumen-vision", 0.1)]
ENDPOINTS = ["/v1/chat", "/v1/embed", "/v1/search", "/v1/files"]


def _day_events(rnd: random.Random, customer: Customer, size: float, day: dt.datetime, growth: float) -> list[dict]:
    weekday = day.weekday() < 5
    scale = size * growth * (1.0 if weekday else 0.35)
    events: list[dict] = []

    def add(event_type: str, n: int, make_props) -> None:
        for i in range(n):
            at = day + dt.timedelta(seconds=rnd.randrange(0, 86400))
            events.append(
                {
                    "transaction_id": f"demo-{customer.external_id}-{event_type}-{day:%Y%m%d}-{i}",
                    "customer": customer.external_id,
                    "event_type": event_type,
                    "timestamp": at.isoformat(),
                    "properties": make_props(),
                }
            )

    add(
        "llm.completion",
        int(6 * scale) + 1,
        lambda: {
            "model": rnd.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0],
            "tokens": rnd.randrange(2_000, 60_000),
            "user": f"u{rnd.randrange(int(40 * size) + 5)}",
        },
    )
    add("api.request", int(12 * scale), lambda: {"endpoint": rnd.choice(ENDPOINTS), "status": 200})
    add("user.active", int(6 * scale) + 1, lambda: {"user_id": f"u{rnd.randrange(int(60 * size) + 5)}"})
    add("credits.consumed", int(4 * scale) + 1, lambda: {"credits": rnd.randrange(5, 120)})
    add("storage.level", 1, lambda: {"gb": round(20 * size * growth + rnd.random() * 5, 2)})
    if size > 2:
        add("gpu.concurrency", 3, lambda: {"gpus": rnd.randrange(1, int(size) + 2)})
    if rnd.random() < 0.08 * size:
        add("finetune.completed", 1, lambda: {"base_model": "lumen-small"})
    if customer.metadata.get("segment") == "enterprise":
        add("marketplace.payout", int(3 * scale), lambda: {"amount": f"{rnd.randrange(500, 90_000) / 100:.2f}"})
    return events


def load_usage(*, as_of: dt.datetime, days: int = DAYS) -> int:
    """Ingest `days` of demo usage up to `as_of`. Returns how many events were accepted."""
    build_missing_rollups()  # while there are no events: instant, and every batch then adds to rollups
    accepted = 0
    start = (as_of - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for customer in Customer.objects.filter(external_id__in=demo_ids()).order_by("external_id"):
        if UsageEvent.objects.filter(customer=customer).exists():
            continue
        rnd = random.Random(customer.external_id)
        size = rnd.choice([0.5, 1, 1, 2, 3, 5])
        batch: list[dict] = []
        for offset in range(days + 1):
            day = start + dt.timedelta(days=offset)
            growth = 1 + offset / days * rnd.uniform(0.1, 0.6)
            batch += [
                e
                for e in _day_events(rnd, customer, size, day, growth)
                if dt.datetime.fromisoformat(e["timestamp"]) <= as_of
            ]
            while len(batch) >= 1000:
                accepted += _send(batch[:1000], as_of, days)
                batch = batch[1000:]
        if batch:
            accepted += _send(batch, as_of, days)
    return accepted


def _send(events: list[dict], as_of: dt.datetime, days: int) -> int:
    result = usage_events_ingest(events=events, received_at=as_of, max_age=dt.timedelta(days=days + 2))
    return result.count("accepted")
