"""Test clocks: the API and its permissions, advancing (order, idempotence, refusals), deleting, attaching,
customers living at their clock's time (ingestion, real-time runs), and balance expiry for real customers.

The contract fixture (tests/billing/conftest.py): acme from 2026-01-01, 10 seats at 40, credits at 0.01 with
1,000 included a month. Seats are billed in advance: January's on the opening invoice issued at the contract's
start, each later month's on the invoice closing the month before. Amounts are worked out by hand beside them.
"""

import datetime as dt
import time
from decimal import Decimal as D

import psycopg
import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from billing.models import Invoice, InvoiceStatus
from billing.services import clocks as billing_clocks
from billing.services.expiries import balances_expire_due
from billing.services.runs import invoice_run
from catalog.services import products
from contracts.models import Customer, EntryKind, LedgerEntry, TestClock, TestClockStatus
from contracts.services import balances, clocks
from contracts.services import contracts as contract_services
from revops import clock
from tests.support import current_database_url
from usage.models import UsageEvent
from usage.services import usage_events_ingest

pytestmark = pytest.mark.django_db

API = "/api/v1/test-clocks"
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
def on_clock(contract):
    """acme's contract, with acme on a clock at 1 January 2026 (before anything was billed)."""
    made = clocks.test_clock_create(name="acme sandbox", frozen_time=START, actor=None)
    clocks.customer_test_clock_attach(customer=contract.customer, test_clock=made, actor=None, has_final_invoices=False)
    return made


def periods(contract) -> list[tuple[str, str, str, str]]:
    return [
        (i.kind, str(i.period_start), i.status, str(i.total))
        for i in Invoice.objects.filter(contract=contract).order_by("period_start", "kind")
    ]


# --- advancing --------------------------------------------------------------------------------------------


def test_the_steps_are_period_ends_their_grace_and_expiries_in_order(contract, on_clock):
    balances.balance_grant(
        contract=contract, kind="credit", amount=D(50), starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2026, 1, 20), as_of=START, actor=None,
    )  # fmt: skip
    steps = billing_clocks.advance_steps([contract], after=START, until=at("2026-02-10T00:00:00"))
    assert steps == [
        START,  # acme has started with no invoice: its opening invoice, at the clock's time
        at("2026-01-20T00:00:00"),  # the credit's expiry
        at("2026-02-01T00:00:00"),  # January ends: computed
        at("2026-02-04T00:00:00"),  # grace over: finalized
        at("2026-02-10T00:00:00"),  # where the clock stops
    ]


def test_advancing_bills_each_period_once_and_the_clock_stays_where_it_was_taken(contract, on_clock):
    moved = billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=at("2026-03-02T12:00:00"), actor=None)
    assert (moved.status, moved.frozen_time, moved.error) == ("ready", at("2026-03-02T12:00:00"), "")
    # 10 seats x 40 = 400.00 a month, no usage: January's on the opening invoice, February's on January's,
    # March's on February's (February ended on 1 March and is still in its grace).
    assert periods(contract) == [
        ("opening", "2026-01-01", "finalized", "400.000"),
        ("period", "2026-01-01", "finalized", "400.000"),
        ("period", "2026-02-01", "draft", "400.000"),
    ]
    # The opening invoice is issued when the contract starts: at the clock's time when acme was put on it.
    opening = Invoice.objects.get(contract=contract, kind="opening")
    assert (opening.finalized_at, opening.number) == (START, "TEST-INV-2026-000001")
    january = Invoice.objects.get(contract=contract, kind="period", period_start=dt.date(2026, 1, 1))
    assert (january.finalized_at, january.number) == (at("2026-02-04T00:00:00"), "TEST-INV-2026-000002")
    billing_clocks.test_clock_advance(test_clock=moved, frozen_time=at("2026-03-05T00:00:00"), actor=None)
    assert periods(contract) == [
        ("opening", "2026-01-01", "finalized", "400.000"),
        ("period", "2026-01-01", "finalized", "400.000"),
        ("period", "2026-02-01", "finalized", "400.000"),
    ]
    assert Invoice.objects.count() == 3


def test_a_clock_only_moves_forward_and_a_refusal_changes_nothing(contract, on_clock):
    billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=at("2026-01-15T00:00:00"), actor=None)
    for wrong in (at("2026-01-15T00:00:00"), at("2026-01-10T00:00:00")):
        with pytest.raises(Exception) as refused:
            billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=wrong, actor=None)
        assert refused.value.code == "not_forward"
    on_clock.refresh_from_db()
    assert (on_clock.frozen_time, on_clock.status) == (at("2026-01-15T00:00:00"), "ready")


def test_a_failed_step_leaves_the_clock_failed_at_the_last_good_step_and_it_can_be_advanced_again(contract, on_clock):
    # From 15 March the contract subscribes to a product its card has no price for: March cannot be billed, and
    # February's invoice bills March in advance.
    addon = products.product_create(code="addon", name="Add-on", kind="subscription", actor=None)
    mar15 = dt.date(2026, 3, 15)
    contract_services.subscription_change(contract=contract, product=addon, quantity=D(2), effective_date=mar15,
                                          actor=None)  # fmt: skip
    moved = billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=at("2026-04-01T00:00:00"), actor=None)
    # January was billed; the step at February's end failed, so the clock stays at the step before it.
    assert (moved.status, moved.frozen_time) == (TestClockStatus.FAILED, at("2026-02-04T00:00:00"))
    assert "could not be billed at 2026-03-01T00:00:00+00:00" in moved.error
    assert "addon has no price" in moved.error
    assert periods(contract) == [
        ("opening", "2026-01-01", "finalized", "400.000"),
        ("period", "2026-01-01", "finalized", "400.000"),
    ]
    # Fixed (the add-on taken off again from the same day), the same advance completes.
    contract_services.subscription_change(contract=contract, product=addon, quantity=D(0), effective_date=mar15,
                                          actor=None)  # fmt: skip
    again = billing_clocks.test_clock_advance(test_clock=moved, frozen_time=at("2026-04-01T00:00:00"), actor=None)
    assert (again.status, again.error, again.frozen_time) == ("ready", "", at("2026-04-01T00:00:00"))
    assert periods(contract) == [  # each the next month's 10 seats in advance
        ("opening", "2026-01-01", "finalized", "400.000"),
        ("period", "2026-01-01", "finalized", "400.000"),
        ("period", "2026-02-01", "finalized", "400.000"),
        ("period", "2026-03-01", "draft", "400.000"),
    ]


# --- customers live at their clock's time ------------------------------------------------------------------


def test_events_of_a_clock_customer_are_dated_received_and_checked_at_the_clocks_time(contract, on_clock):
    Customer.objects.create(external_id="real", name="Real", currency="USD")
    received = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)  # the real now, for real customers
    result = usage_events_ingest(
        events=[
            {"transaction_id": "a1", "customer": "acme", "event_type": "credits.used", "properties": {"credits": 5}},
            {"transaction_id": "r1", "customer": "real", "event_type": "credits.used", "properties": {"credits": 5}},
            # 1 January 2026 on the clock: 10 days before it is fine, 40 days before and an hour after are not.
            {"transaction_id": "a2", "customer": "acme", "event_type": "credits.used",
             "timestamp": "2025-12-22T00:00:00Z", "properties": {"credits": 5}},
            {"transaction_id": "a3", "customer": "acme", "event_type": "credits.used",
             "timestamp": "2025-11-22T00:00:00Z", "properties": {"credits": 5}},
            {"transaction_id": "a4", "customer": "acme", "event_type": "credits.used",
             "timestamp": "2026-01-01T01:00:00Z", "properties": {"credits": 5}},
        ],
        received_at=received,
    )  # fmt: skip
    assert [(o.transaction_id, o.status, o.code) for o in result.outcomes] == [
        ("a1", "accepted", None),
        ("r1", "accepted", None),
        ("a2", "accepted", None),
        ("a3", "rejected", "too_old"),
        ("a4", "rejected", "in_future"),
    ]
    stored = {e.transaction_id: (e.timestamp, e.received_at) for e in UsageEvent.objects.all()}
    assert stored == {
        "a1": (START, START),
        "a2": (at("2025-12-22T00:00:00"), START),
        "r1": (received, received),
    }


def test_the_real_time_period_close_and_expiry_leave_clock_customers_to_their_clock(contract, on_clock):
    balances.balance_grant(
        contract=contract, kind="credit", amount=D(50), starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2026, 2, 1), as_of=START, actor=None,
    )  # fmt: skip
    later = at("2026-06-01T00:00:00")
    run = invoice_run(as_of=later)
    assert (run.contracts_total, Invoice.objects.count()) == (0, 0)
    assert balances_expire_due(as_of=later) == []
    on_clock.refresh_from_db()
    assert on_clock.frozen_time == START


def test_balance_expiry_waits_for_the_last_invoice_that_can_draw_on_it(contract):
    """A real customer: the credit is usable in January; it expires only once January's invoice is final."""
    credit = balances.balance_grant(
        contract=contract, kind="credit", amount=D(1000), starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2026, 2, 1), as_of=START, actor=None,
    )  # fmt: skip
    feb2 = at("2026-02-02T00:00:00")
    # The opening invoice (January's 400.00 of seats, paid from the credit) is final; January's invoice is
    # computed, still a draft in its grace: it can still draw on the credit.
    invoice_run(as_of=feb2, contracts=[contract])
    assert balances_expire_due(as_of=feb2) == []
    feb5 = at("2026-02-05T00:00:00")
    invoice_run(as_of=feb5, contracts=[contract])  # January finalized: February's 400.00 of seats from the credit
    expired = balances_expire_due(as_of=feb5)
    # 1,000 - 400 (opening) - 400 (January's invoice) = 200 left, expired; a second run finds nothing to do.
    assert [(e.balance_id, e.kind, e.amount) for e in expired] == [(credit.pk, EntryKind.EXPIRY, D(-200))]
    assert balances_expire_due(as_of=at("2026-02-06T00:00:00")) == []
    assert LedgerEntry.objects.filter(balance=credit).count() == 4  # grant, two draw-downs, expiry


def test_the_expiry_schedule_is_in_the_database_for_beat():
    task = PeriodicTask.objects.get(name="billing: expire commitments and credits")
    assert (task.task, task.interval.every, task.interval.period, task.enabled) == (
        "billing.expire_balances",
        1,
        "hours",
        True,
    )


# --- deleting and attaching -------------------------------------------------------------------------------


def test_deleting_a_clock_deletes_its_simulated_customers_while_nothing_is_frozen(contract, on_clock):
    # Seats would be billed in advance on an opening invoice, final at once: with none (usage only), January's
    # invoice is the only one, and a draft until its grace is over.
    seat = contract.subscription_changes.get().product
    contract_services.subscription_change(contract=contract, product=seat, quantity=D(0), effective_date=START.date(),
                                          actor=None)  # fmt: skip
    sent = {"transaction_id": "d1", "customer": "acme", "event_type": "credits.used", "properties": {"credits": 1}}
    usage_events_ingest(events=[sent], received_at=START)
    billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=at("2026-02-02T00:00:00"), actor=None)
    assert Invoice.objects.get().status == InvoiceStatus.DRAFT
    assert billing_clocks.test_clock_delete(test_clock=on_clock, actor=None) == 1
    assert not (
        TestClock.objects.exists()
        or Customer.objects.exists()
        or Invoice.objects.exists()
        or UsageEvent.objects.exists()
    )


def test_deleting_a_clock_with_a_finalized_invoice_is_refused_and_deletes_nothing(contract, on_clock):
    billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=at("2026-02-05T00:00:00"), actor=None)
    with pytest.raises(Exception) as refused:
        billing_clocks.test_clock_delete(test_clock=on_clock, actor=None)
    assert refused.value.code == "clock_has_frozen_records"
    assert "2 finalized invoice(s)" in refused.value.message  # the opening invoice and January's
    assert (TestClock.objects.count(), Customer.objects.count(), Invoice.objects.count()) == (1, 1, 2)


def test_a_customer_with_a_finalized_invoice_cannot_join_a_clock(contract):
    invoice_run(as_of=at("2026-02-05T00:00:00"), contracts=[contract])
    sandbox = clocks.test_clock_create(name="late", frozen_time=START, actor=None)
    with pytest.raises(Exception) as refused:
        billing_clocks.test_clock_customer_attach(test_clock=sandbox, customer=contract.customer, actor=None)
    assert refused.value.code == "has_final_invoices"
    assert Customer.objects.get().test_clock is None


def test_simulated_invoices_are_numbered_in_their_own_series(contract, on_clock):
    real = Customer.objects.create(external_id="real", name="Real", currency="USD")
    real_contract = contract_services.contract_create(
        customer=real, rate_card=contract.rate_card, start_date=dt.date(2026, 1, 1), actor=None,
        subscriptions=[(contract.subscription_changes.get().product, D(1))],
    )  # fmt: skip
    contract_services.contract_activate(contract=real_contract, actor=None)
    billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=at("2026-02-05T00:00:00"), actor=None)
    invoice_run(as_of=at("2026-02-05T00:00:00"))
    numbers = {(i.customer.external_id, i.kind): i.number for i in Invoice.objects.select_related("customer")}
    assert numbers == {  # each: the opening invoice, then January's
        ("acme", "opening"): "TEST-INV-2026-000001",
        ("acme", "period"): "TEST-INV-2026-000002",
        ("real", "opening"): "INV-2026-000001",
        ("real", "period"): "INV-2026-000002",
    }


def wait_until_unlocked(test_clock, timeout: float = 10.0) -> None:
    """Until no session holds the clock's advisory lock (a closed connection's backend ends a moment later)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s"
                " AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [clocks._LOCK_NAMESPACE, test_clock.pk],
            )
            if cursor.fetchone()[0] == 0:
                return
            assert time.monotonic() < deadline, "the closed connection's advisory lock was never freed"
            time.sleep(0.05)


def test_a_clock_advancing_elsewhere_is_refused_and_one_left_advancing_by_a_crash_moves_on(contract, on_clock):
    with psycopg.connect(current_database_url(), autocommit=True) as other:  # another process advancing it
        other.execute("SELECT pg_advisory_lock(%s, %s)", [clocks._LOCK_NAMESPACE, on_clock.pk])
        with pytest.raises(Exception) as refused:
            billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=at("2026-02-05T00:00:00"), actor=None)
        assert refused.value.code == "clock_advancing"
        with pytest.raises(Exception) as refused:
            billing_clocks.test_clock_delete(test_clock=on_clock, actor=None)
        assert refused.value.code == "clock_advancing"
    assert Invoice.objects.count() == 0
    # A process that died mid-advance left the status behind; its lock went with its connection (the server
    # frees it once it has seen the disconnection: waited for, not to race it).
    wait_until_unlocked(on_clock)
    TestClock.objects.filter(pk=on_clock.pk).update(status=TestClockStatus.ADVANCING)
    moved = billing_clocks.test_clock_advance(test_clock=on_clock, frozen_time=at("2026-02-05T00:00:00"), actor=None)
    statuses = list(Invoice.objects.order_by("pk").values_list("kind", "status"))
    assert (moved.status, statuses) == ("ready", [("opening", "finalized"), ("period", "finalized")])


def test_the_expiry_task_expires_what_is_due_as_of_the_project_clock(contract):
    from billing.tasks import expire_balances

    credit = balances.balance_grant(
        contract=contract, kind="credit", amount=D(1000), starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2026, 2, 1), as_of=START, actor=None,
    )  # fmt: skip
    # The opening invoice is final (January's 400.00 of seats drawn); January's is a draft in its grace.
    invoice_run(as_of=at("2026-02-02T00:00:00"), contracts=[contract])
    with clock.frozen_at(at("2026-02-02T00:00:00")):
        assert expire_balances.delay().get() == 0  # January's invoice may still draw on it
    invoice_run(as_of=at("2026-02-05T00:00:00"), contracts=[contract])  # final: February's 400.00 of seats drawn
    with clock.frozen_at(at("2026-02-05T00:00:00")):
        assert expire_balances.delay().get() == 1
    # 1,000 - 400 - 400 = 200 expired, as of the project clock's time.
    expiry = LedgerEntry.objects.get(kind=EntryKind.EXPIRY, balance=credit)
    assert (expiry.amount, expiry.effective_at) == (D(-200), at("2026-02-05T00:00:00"))
