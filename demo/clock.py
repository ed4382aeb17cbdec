"""A simulated customer on a test clock: months of billing produced in seconds when the demo loads.

Northwind Traders signs on 1 August 2026 with a prepaid commitment for its first quarter. For each month the
clock is moved to the month's last day, the month's usage is sent (stamped on the clock's days), and moving
on closes the month: its invoice is computed, finalized after the grace period, and the commitment expires
once the last invoice that can draw on it is final. The admin then shows half a year of invoices.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from decimal import Decimal as D

from billing.services.clocks import test_clock_advance
from catalog.models import Product, RateCard
from contracts.models import Customer, TestClock
from contracts.services import balances, clocks
from contracts.services import contracts as svc
from contracts.services.customers import customer_create
from usage.services import usage_events_ingest

EXTERNAL_ID = "northwind-sandbox"
START = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
MONTHS = 6  # August 2026 to January 2027, each invoiced and finalized
MODELS = ["lumen-small", "lumen-large"]


def _month_starts() -> list[dt.datetime]:
    starts = [START]
    for _ in range(MONTHS):
        last = starts[-1]
        starts.append(last.replace(year=last.year + last.month // 12, month=last.month % 12 + 1))
    return starts


def _usage(rnd: random.Random, start: dt.datetime, end: dt.datetime, growth: float) -> list[dict]:
    events = []
    day = start
    while day < end:
        for i in range(int(8 * growth)):
            at = (day + dt.timedelta(seconds=rnd.randrange(0, 86_000))).isoformat()
            base = {"customer": EXTERNAL_ID, "timestamp": at}
            events += [
                {**base, "transaction_id": f"nw-llm-{day:%Y%m%d}-{i}", "event_type": "llm.completion",
                 "properties": {"model": rnd.choice(MODELS), "tokens": rnd.randrange(5_000, 80_000), "user": f"u{i}"}},
                {**base, "transaction_id": f"nw-api-{day:%Y%m%d}-{i}", "event_type": "api.request",
                 "properties": {"endpoint": "/v1/chat", "status": 200}},
                {**base, "transaction_id": f"nw-cred-{day:%Y%m%d}-{i}", "event_type": "credits.consumed",
                 "properties": {"credits": rnd.randrange(20, 90)}},
            ]  # fmt: skip
        day += dt.timedelta(days=1)
    return events


def load_clock_demo(*, actor) -> TestClock | None:
    """The simulated customer and its clock, advanced through the months (once: a second load adds nothing)."""
    if Customer.objects.filter(external_id=EXTERNAL_ID).exists():
        return None
    clock = clocks.test_clock_create(name="Demo: Northwind on a test clock", frozen_time=START, actor=actor)
    customer = customer_create(
        external_id=EXTERNAL_ID,
        name="Northwind Traders (simulated)",
        currency="USD",
        billing_email="billing@northwind.example",
        actor=actor,
        reason="demo data: a simulated customer",
        test_clock=clock,
    )
    card = RateCard.objects.get(code="standard-usd")
    contract = svc.contract_create(
        customer=customer,
        rate_card=card,
        start_date=START.date(),
        terms=svc.Terms(included_usage=[(Product.objects.get(code="ai-credits"), D(5000))]),
        subscriptions=[
            (Product.objects.get(code="platform-seat"), D(12)),
            (Product.objects.get(code="platform-fee"), D(1)),
        ],
        actor=actor,
        reason="demo data",
        name="Northwind — simulated on a test clock",
    )
    svc.contract_activate(contract=contract, actor=actor, reason="demo data")
    balances.balance_grant(
        contract=contract, kind="commit", amount=D(3000), starts_on=START.date(), expires_on=dt.date(2026, 11, 1),
        as_of=START, actor=actor, name="First-quarter commitment", reason="demo data",
    )  # fmt: skip
    rnd = random.Random(EXTERNAL_ID)
    starts = _month_starts()
    for index, (start, end) in enumerate(itertools.pairwise(starts)):
        clock = _advance(clock, end - dt.timedelta(minutes=1), actor=actor)  # the month's last minute
        events = _usage(rnd, start, end, 1 + index / 4)
        for first in range(0, len(events), 1000):
            usage_events_ingest(events=events[first : first + 1000], received_at=clock.frozen_time)
    # Into February: January's period is closed and its grace is over.
    return _advance(clock, starts[-1] + dt.timedelta(days=3, hours=1), actor=actor)


def _advance(clock: TestClock, to: dt.datetime, *, actor) -> TestClock:
    moved = test_clock_advance(test_clock=clock, frozen_time=to, actor=actor)
    if moved.error:
        raise RuntimeError(f"the demo's test clock stopped at {moved.frozen_time}: {moved.error}")
    return moved
