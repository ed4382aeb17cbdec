"""Helpers for the revenue and report tests: more contracts on the fixture's card, usage on any date, closing."""

import datetime as dt
from decimal import Decimal as D

from billing.services.invoices import invoice_compute, invoice_finalize
from catalog.models import Product
from contracts.models import Customer
from contracts.services import balances
from contracts.services import contracts as svc
from revops.periods import Period
from usage.services import usage_events_ingest


def at(year: int, month: int, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


def another_contract(base, external_id: str, *, seats: int = 0, cadence: str = "monthly", anchor=None):
    """A contract on the fixture's card (seat 40, AI credits 0.01 with 1,000 included) for a new customer."""
    customer = Customer.objects.create(external_id=external_id, name=external_id.title(), currency="USD")
    credits = Product.objects.get(code="credits")
    contract = svc.contract_create(
        customer=customer,
        rate_card=base.rate_card,
        start_date=anchor or dt.date(2026, 1, 1),
        billing_anchor=anchor,
        cadence=cadence,
        actor=None,
        terms=svc.Terms(included_usage=[(credits, D(1000))]),
        subscriptions=[(Product.objects.get(code="seat"), D(seats))] if seats else [],
    )
    svc.contract_activate(contract=contract, actor=None)
    return contract


def spend(customer: str, credits: int, *, on: dt.datetime, prefix: str, received: dt.datetime | None = None):
    """One event of `credits` AI credits for `customer` at `on`, received an hour later unless told."""
    result = usage_events_ingest(
        events=[
            {
                "transaction_id": f"{prefix}-{customer}",
                "customer": customer,
                "event_type": "credits.used",
                "timestamp": on.isoformat(),
                "properties": {"credits": credits},
            }
        ],
        received_at=received or on + dt.timedelta(hours=1),
    )
    assert result.count("accepted") == 1


def close(contract, start: dt.date, end: dt.date, *, as_of: dt.datetime):
    return invoice_finalize(
        invoice=invoice_compute(contract=contract, period=Period(start, end), as_of=as_of), as_of=as_of, actor=None
    )


def schedule(line) -> list[tuple[str, D]]:
    return [(f"{e.month:%Y-%m}", e.amount) for e in line.revenue_entries.order_by("month")]


def commitment_granted(contract, amount: int = 1000):
    """A prepaid commitment of `amount` usable January to June 2026, granted on 1 January."""
    return balances.balance_grant(
        contract=contract,
        kind="commit",
        amount=D(amount),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2026, 7, 1),
        as_of=at(2026, 1, 1),
        actor=None,
    )


def commitment_bought_in_january(contract, external_id: str = "gamma"):
    """Another contract with a 1,000 commitment usable January to June 2026, its January invoice finalized on
    31 January: returns the contract and the invoice's commitment purchase line."""
    gamma = another_contract(contract, external_id)
    commitment_granted(gamma)
    january = close(gamma, dt.date(2026, 1, 1), dt.date(2026, 2, 1), as_of=at(2026, 1, 31))
    return gamma, january.lines.get(kind="commit_purchase")
