"""Commit and credit balances: an append-only ledger, draw-down order, expiry with rollover, no overdraw."""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, connection, transaction

from catalog.services import products, rate_cards
from contracts.models import Customer, LedgerEntry
from contracts.services import balances
from contracts.services import contracts as svc
from revops.errors import ValidationError

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
ON = dt.date(2026, 11, 10)


@pytest.fixture
def contract(transactional_db):
    customer = Customer.objects.create(external_id="acme", name="Acme", currency="USD")
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    return svc.contract_create(customer=customer, rate_card=card, start_date=dt.date(2026, 1, 1), actor=None)


def grant(contract, amount, expires, *, kind="credit", priority=100, product=None, rollover=D(0)):
    return balances.balance_grant(
        contract=contract,
        kind=kind,
        amount=D(amount),
        starts_on=dt.date(2026, 1, 1),
        expires_on=expires,
        as_of=T0,
        actor=None,
        priority=priority,
        product=product,
        rollover_fraction=rollover,
    )


def test_draw_down_takes_soonest_expiry_then_priority_then_oldest(contract):
    late = grant(contract, 100, dt.date(2027, 1, 1))
    soon_low = grant(contract, 50, dt.date(2026, 12, 1), priority=200)
    soon_high = grant(contract, 30, dt.date(2026, 12, 1), priority=10)
    drawn = balances.balance_draw_down(contract=contract, amount=D(100), on=ON, as_of=T0, actor=None)
    assert [(e.balance_id, e.amount) for e in drawn.entries] == [
        (soon_high.pk, D(-30)),
        (soon_low.pk, D(-50)),
        (late.pk, D(-20)),
    ]
    assert [balances.remaining(b) for b in (soon_high, soon_low, late)] == [0, 0, 80]


def test_draw_down_never_overdraws_and_reports_the_shortfall(contract):
    grant(contract, 40, dt.date(2027, 1, 1))
    drawn = balances.balance_draw_down(contract=contract, amount=D(100), on=ON, as_of=T0, actor=None)
    assert (drawn.drawn, drawn.short) == (D(40), D(60))


def test_expired_and_not_yet_started_balances_are_not_drawn(contract):
    grant(contract, 40, dt.date(2026, 11, 10))  # expires the day of the draw (exclusive)
    drawn = balances.balance_draw_down(contract=contract, amount=D(10), on=ON, as_of=T0, actor=None)
    assert drawn.drawn == 0


def test_product_scoped_credit_pays_only_for_its_product(contract):
    product = products.product_create(code="seat", name="Seat", kind="subscription", actor=None)
    grant(contract, 40, dt.date(2027, 1, 1), product=product)
    assert balances.balance_draw_down(contract=contract, amount=D(10), on=ON, as_of=T0, actor=None).drawn == 0
    assert (
        balances.balance_draw_down(contract=contract, amount=D(10), on=ON, as_of=T0, actor=None, product=product).drawn
        == 10
    )


def test_commit_expiry_rolls_a_share_into_a_new_balance(contract):
    commit = grant(contract, 1000, dt.date(2026, 12, 1), kind="commit", rollover=D("0.25"))
    balances.balance_draw_down(contract=contract, amount=D(600), on=ON, as_of=T0, actor=None)
    entries = balances.balance_expire(balance=commit, as_of=dt.datetime(2026, 12, 1, tzinfo=dt.UTC), actor=None)
    # 400 left: 25% = 100 rolls over, 300 expires
    assert sorted((e.kind, e.amount) for e in entries) == [("expiry", D(-300)), ("rollover", D(-100))]
    assert balances.remaining(commit) == 0
    successor = contract.balances.exclude(pk=commit.pk).get()
    assert (successor.amount, successor.starts_on, balances.remaining(successor)) == (
        D(100),
        dt.date(2026, 12, 1),
        D(100),
    )
    assert balances.balance_expire(balance=commit, as_of=dt.datetime(2026, 12, 2, tzinfo=dt.UTC), actor=None) == []


def test_adjustments_and_voids_need_reasons_and_never_go_below_zero(contract):
    credit = grant(contract, 50, dt.date(2027, 1, 1))
    with pytest.raises(ValidationError):
        balances.balance_adjust(balance=credit, amount=D(-60), as_of=T0, actor=None, reason="fix")
    balances.balance_adjust(balance=credit, amount=D(-20), as_of=T0, actor=None, reason="fix")
    balances.balance_void(balance=credit, as_of=T0, actor=None, reason="granted by mistake")
    assert balances.remaining(credit) == 0


def test_the_ledger_is_append_only_in_the_database(contract):
    grant(contract, 50, dt.date(2027, 1, 1))
    entry = LedgerEntry.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=D(5000))
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get().amount == 50


def test_concurrent_draw_downs_never_overdraw(contract):
    grant(contract, 1000, dt.date(2027, 1, 1))
    grant(contract, 500, dt.date(2026, 12, 15), priority=5)
    results: list = []
    errors: list = []

    def draw():
        try:
            for _ in range(10):
                results.append(
                    balances.balance_draw_down(contract=contract, amount=D(17), on=ON, as_of=T0, actor=None).drawn
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=draw) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # 120 draws of 17 = 2,040 asked for; only 1,500 exists: exactly 1,500 drawn, nothing below zero.
    assert sum(results) == D(1500)
    assert all(balances.remaining(b) == 0 for b in contract.balances.all())
