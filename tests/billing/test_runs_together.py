"""The period close's fast path (billing/services/batch_close.py) closes contracts with one period each
together: what it stores must be what closing each contract alone with the invoice services stores:
lines, totals, numbers, draw-downs, revenue schedules, webhook events and history. Then the cases it
hands back: a contract with several periods, one that fails, an invoice made by someone else meanwhile.

The contract (tests/billing/conftest.py): 10 seats at 40.00 and AI credits at 0.01 with 1,000 included.
"""

import datetime as dt
import json
import threading
from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.models import Invoice, InvoiceRun, LineKind
from billing.revenue.models import RevenueEntry
from billing.services.invoices import invoice_finalize
from billing.services.runs import invoice_run
from billing.services.taxes import tax_rate_create
from billing.webhooks.models import WebhookDelivery, WebhookEvent
from billing.webhooks.services import webhook_endpoint_create
from catalog.models import Product
from catalog.services import rate_cards
from contracts.models import Customer, LedgerEntry
from contracts.services import balances
from contracts.services import contracts as svc
from contracts.services.customers import customer_update
from revops.periods import Period
from usage.services import usage_events_ingest

pytestmark = pytest.mark.django_db
OCTOBER_CLOSE = dt.datetime(2026, 11, 5, tzinfo=dt.UTC)  # October is past its 72 hours of grace
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
NOVEMBER_CLOSE = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def send(customer: str, credits: int, *, at: dt.datetime, received: dt.datetime, key: str) -> None:
    event = {"transaction_id": key, "customer": customer, "event_type": "credits.used",
             "timestamp": at.isoformat(), "properties": {"credits": credits}}  # fmt: skip
    assert usage_events_ingest(events=[event], received_at=received).count("accepted") == 1


@pytest.fixture
def mixed(contract, settings):
    """Seven contracts from 1 October on the fixture's card, each with something of its own, October closed;
    then what happens in November: a late October event, a prorated change billed at once and a downgrade
    left to the period invoice, a new commitment."""
    settings.REVOPS_WEBHOOK_ALLOW_HTTP = True
    webhook_endpoint_create(url="http://127.0.0.1:9/hooks", description="CRM", as_of=OCTOBER_CLOSE, actor=None)
    tax_rate_create(name="CA sales tax", rate_percent=D("7.25"), region="US-CA", effective_from=dt.date(2026, 1, 1),
                    actor=None)  # fmt: skip
    seat, credits = Product.objects.get(code="seat"), Product.objects.get(code="credits")
    terms = {
        "plain": svc.Terms(included_usage=[(credits, D(1000))]),
        "taxed": svc.Terms(),
        "discounted": svc.Terms(overrides=[svc.OverrideSpec(kind="discount", discount_percent=D(12))]),
        "minimum": svc.Terms(minimum_spend=D(900)),
        "committed": svc.Terms(),
        "credited": svc.Terms(),
        "prorated": svc.Terms(),
    }
    made = {}
    for index, (name, term) in enumerate(terms.items()):
        customer = Customer.objects.create(external_id=name, name=name.title(), currency="USD")
        contract_ = svc.contract_create(
            customer=customer, rate_card=contract.rate_card, start_date=dt.date(2026, 10, 1), actor=None,
            terms=term, subscriptions=[(seat, D(index + 2))],
            proration="immediately" if name == "prorated" else "next_invoice",
        )  # fmt: skip
        made[name] = svc.contract_activate(contract=contract_, actor=None)
        for day in (3, 17):
            at = dt.datetime(2026, 10, day, 12, tzinfo=dt.UTC)
            send(name, 700 + 37 * index, at=at, received=at, key=f"{name}-oct-{day}")
            at = dt.datetime(2026, 11, day, 12, tzinfo=dt.UTC)
            send(name, 900 + 53 * index, at=at, received=at, key=f"{name}-nov-{day}")
    customer_update(customer=made["taxed"].customer, actor=None, reason="moved", tax_region="US-CA")
    balances.balance_grant(
        contract=made["credited"], kind="credit", amount=D(25), product=credits, starts_on=dt.date(2026, 10, 1),
        expires_on=dt.date(2027, 1, 1), as_of=OCTOBER_CLOSE, actor=None, name="goodwill",
    )  # fmt: skip
    october = invoice_run(as_of=OCTOBER_CLOSE, contracts=made.values())
    assert (october.invoices_made, october.failures) == (14, [])  # 7 opening invoices, then 7 for October
    # November: an October event arrives late, a change is billed at once, a commitment starts.
    late = dt.datetime(2026, 10, 20, tzinfo=dt.UTC)
    send("plain", 5000, at=late, received=dt.datetime(2026, 11, 6, tzinfo=dt.UTC), key="plain-late")
    svc.subscription_change(
        contract=made["prorated"], product=seat, quantity=D(20), effective_date=dt.date(2026, 11, 16), actor=None,
        as_of=dt.datetime(2026, 11, 16, 10, tzinfo=dt.UTC),
    )  # fmt: skip
    # 8 seats, billed ahead on October's invoice (320.00); 20 from 16 November billed at once: 8 x 40 x 15/30 +
    # 20 x 40 x 15/30 - 320.00 = 240.00. Then down to 14 from 26 November: a credit, not billed at once but on
    # November's invoice, which settles November against both invoices (so it shows what the off-cycle billed).
    svc.subscription_change(
        contract=made["prorated"], product=seat, quantity=D(14), effective_date=dt.date(2026, 11, 26), actor=None,
        as_of=dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC),
    )  # fmt: skip
    assert Invoice.objects.filter(contract=made["prorated"], kind="off_cycle").count() == 1
    balances.balance_grant(
        contract=made["committed"], kind="commit", amount=D(300), starts_on=dt.date(2026, 11, 1),
        expires_on=dt.date(2027, 11, 1), as_of=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), actor=None, name="annual",
    )  # fmt: skip
    return list(made.values())


def stored(contracts) -> dict:
    """Everything the November close stored, without ids (two closes of the same data get other ids)."""
    invoices = Invoice.objects.filter(contract__in=contracts, period_start=NOVEMBER.start, kind="period")
    found = {}
    for invoice in invoices.select_related("customer"):
        lines = [
            (line.position, line.kind, line.product.code if line.product else None, line.description, line.group,
             line.quantity, line.unit_price, line.amount, line.breakdown, line.service_start, line.service_end,
             line.balance.name if line.balance else None, line.pricing_model, line.tax_percent, line.taxable_base)
            for line in invoice.lines.order_by("position").select_related("product", "balance")
        ]  # fmt: skip
        schedule = sorted(
            (entry.line.position, entry.month, entry.amount)
            for entry in RevenueEntry.objects.filter(line__invoice=invoice).select_related("line")
        )
        drawn = sorted(
            (entry.balance.name, entry.kind, entry.amount)
            for entry in LedgerEntry.objects.filter(reference=f"invoice {invoice.pk}").select_related("balance")
        )
        events = [
            {k: v for k, v in json.loads(e.body)["data"].items() if k not in ("id", "created_at")}
            for e in WebhookEvent.objects.filter(type="invoice.finalized", body__contains=f'"id":{invoice.pk},')
        ]
        last = invoice.history.order_by("history_date", "history_id").last()
        found[invoice.customer.external_id] = {
            "invoice": (invoice.number, invoice.status, invoice.subtotal, invoice.tax_total, invoice.total,
                        invoice.zero_total, invoice.finalized_at, invoice.due_date, invoice.computed_at),
            "lines": lines, "schedule": schedule, "drawn": drawn, "events": events,
            "history": (last.history_change_reason, last.number, last.status),
        }  # fmt: skip
    return found


def test_closing_together_stores_what_closing_each_alone_stores(mixed):
    events_before = WebhookEvent.objects.count()
    with transaction.atomic():
        alone_point = transaction.savepoint()
        with CaptureQueriesContext(connection) as alone_queries:
            for contract in mixed:  # the invoice services, one contract after the other
                invoice = Invoice.objects.create(
                    contract=contract, customer=contract.customer, period_start=NOVEMBER.start,
                    period_end=NOVEMBER.end, currency=contract.currency,
                )  # fmt: skip
                invoice_finalize(invoice=invoice, as_of=NOVEMBER_CLOSE, actor=None)
        alone = stored(mixed)
        transaction.savepoint_rollback(alone_point)
    assert WebhookEvent.objects.count() == events_before
    with CaptureQueriesContext(connection) as queries:
        run = invoice_run(as_of=NOVEMBER_CLOSE, contracts=mixed)
    assert (run.contracts_done, run.invoices_created, run.invoices_made, run.failures) == (7, 7, 7, [])
    together = stored(mixed)
    assert together == alone
    # What each case put on its invoice (so the comparison above compares something).
    kinds = {name: [line[1] for line in found["lines"]] for name, found in together.items()}
    assert LineKind.CORRECTION in kinds["plain"]
    assert LineKind.TAX in kinds["taxed"]
    assert LineKind.DISCOUNT in kinds["discounted"]
    assert LineKind.MINIMUM in kinds["minimum"]
    assert {LineKind.COMMIT_PURCHASE, LineKind.COMMIT} <= set(kinds["committed"])
    assert LineKind.CREDIT in kinds["credited"]
    assert LineKind.BILLED_OFF_CYCLE in kinds["prorated"]
    # November as it turned out: 8 x 40 x 15/30 = 160.00, 20 x 40 x 10/30 = 266.67, 14 x 40 x 5/30 = 93.33
    # (520.00), less 320.00 billed ahead and 240.00 billed at once; then December's 14 seats ahead: 560.00.
    fees = [(line[1], line[7]) for line in together["prorated"]["lines"] if line[2] == "seat"]
    assert fees == [
        ("subscription", D("160.00")), ("subscription", D("266.67")), ("subscription", D("93.33")),
        ("billed_in_advance", D("-320.00")), ("billed_off_cycle", D("-240.00")), ("subscription", D("560.00")),
    ]  # fmt: skip
    assert together["committed"]["drawn"] and together["credited"]["drawn"]
    assert all(found["schedule"] and len(found["events"]) == 1 for found in together.values())
    # The seven opening invoices, October's seven, the off-cycle invoice and November's seven, each delivered.
    assert WebhookDelivery.objects.filter(event__type="invoice.finalized").count() == 22
    # Written together, with the run's own bookkeeping included: under half the statements of one by one.
    assert len(queries) < len(alone_queries) / 2


def test_a_draft_in_its_grace_is_computed_and_recomputed_together(mixed):
    in_grace = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    first = invoice_run(as_of=in_grace, contracts=mixed)
    assert (first.invoices_created, first.invoices_made, first.failures) == (7, 0, [])
    drafts = Invoice.objects.filter(period_start=NOVEMBER.start, kind="period", contract__in=mixed)
    assert set(drafts.values_list("status", flat=True)) == {"draft"}
    assert not LedgerEntry.objects.filter(kind="drawdown", reference__in=[f"invoice {i.pk}" for i in drafts]).exists()
    send("plain", 3000, at=dt.datetime(2026, 11, 29, tzinfo=dt.UTC), received=in_grace, key="plain-in-grace")
    plain = drafts.get(customer__external_id="plain")
    before = plain.total
    again = invoice_run(as_of=in_grace + dt.timedelta(hours=1), contracts=mixed)
    assert (again.invoices_created, again.invoices_made) == (0, 0)
    plain.refresh_from_db()
    assert plain.total == before + D("30.00")
    assert plain.history.first().history_change_reason == "computed"
    # Then grace ends: the same drafts are finalized together, numbered in contract order.
    final = invoice_run(as_of=NOVEMBER_CLOSE, contracts=mixed)
    assert (final.invoices_created, final.invoices_made, final.failures) == (0, 7, [])
    numbers = [drafts.get(contract=c).number for c in mixed]
    assert numbers == sorted(numbers) and len(set(numbers)) == 7


def unpriced_from_december() -> object:
    """A contract from 1 November whose card prices its seats in November only (December's version prices
    credits): its opening invoice bills November, and November's close, billing December's seats ahead,
    cannot price them."""
    late = rate_cards.rate_card_create(code="late", name="Late", currency="USD", actor=None)
    seat, credits = Product.objects.get(code="seat"), Product.objects.get(code="credits")
    november = rate_cards.rate_card_version_create(rate_card=late, effective_from=NOVEMBER.start, actor=None)
    rate_cards.price_set(version=november, product=seat, values={"model": "per_unit", "unit_price": D(1)}, actor=None)
    rate_cards.rate_card_version_activate(version=november, actor=None, as_of=OCTOBER_CLOSE)
    december = rate_cards.rate_card_version_create(rate_card=late, effective_from=NOVEMBER.end, actor=None)
    rate_cards.price_delete(price=december.prices.get(product=seat), actor=None)  # copied from November's
    rate_cards.price_set(
        version=december, product=credits, values={"model": "per_unit", "unit_price": D(1)}, actor=None
    )
    rate_cards.rate_card_version_activate(version=december, actor=None, as_of=OCTOBER_CLOSE)
    customer = Customer.objects.create(external_id="unpriced", name="Unpriced", currency="USD")
    contract = svc.contract_create(
        customer=customer, rate_card=late, start_date=NOVEMBER.start, actor=None,
        subscriptions=[(seat, D(3))],
    )  # fmt: skip
    return svc.contract_activate(contract=contract, actor=None)


def test_a_contract_that_cannot_be_invoiced_keeps_nothing_and_the_others_go_on(mixed):
    unpriced = unpriced_from_december()
    contracts = [*mixed[:3], unpriced, *mixed[3:]]  # in the middle of the batch
    run = invoice_run(as_of=NOVEMBER_CLOSE, contracts=contracts)
    # Its opening invoice (November's 3 seats at 1.00, in advance) is made; its November close, in the batch,
    # cannot price December's seats: it is named once and leaves nothing (no draft, no number).
    assert (run.contracts_done, run.invoices_created, run.invoices_made) == (8, 8, 8)
    assert [(f["contract"], f["code"]) for f in run.failures] == [(unpriced.pk, "unpriced_product")]
    assert [(i.kind, i.total) for i in Invoice.objects.filter(contract=unpriced)] == [("opening", D("3.00"))]
    assert Invoice.objects.filter(contract__in=mixed, kind="period", period_start=NOVEMBER.start).count() == 7
    numbers = sorted(Invoice.objects.exclude(number=None).values_list("number", flat=True))
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, len(numbers) + 1)]  # nothing taken for it


def test_several_periods_go_one_by_one_and_single_ones_together_in_one_run(contract, mixed):
    # The fixture's own contract started in January: eleven periods to close, each building on the one before.
    run = invoice_run(as_of=NOVEMBER_CLOSE, contracts=[contract, *mixed])
    # The fixture's contract: its opening invoice and January to November (12); the others' November (7).
    assert (run.contracts_done, run.invoices_created, run.invoices_made, run.failures) == (8, 19, 19, [])
    numbers = list(Invoice.objects.exclude(number=None).order_by("number").values_list("number", flat=True))
    assert numbers == [f"INV-2026-{n:06d}" for n in range(1, len(numbers) + 1)]  # gapless, both ways
    assert InvoiceRun.objects.get(pk=run.pk).status == "finished"


@pytest.mark.django_db(transaction=True)
def test_an_invoice_made_meanwhile_sends_the_batch_one_by_one(mixed):
    """Another transaction makes one of the November invoices while this close runs (it did not exist when the
    close looked): the close's insert meets the one-invoice-per-period constraint, nothing of the batch is
    kept, and its contracts are closed one by one, the other's invoice included."""
    target = mixed[3]
    made, done = threading.Event(), threading.Event()

    def other_close() -> None:
        try:
            with transaction.atomic():
                Invoice.objects.create(contract=target, customer=target.customer, period_start=NOVEMBER.start,
                                       period_end=NOVEMBER.end, currency="USD")  # fmt: skip
                made.set()
                done.wait(timeout=2)  # holds its uncommitted invoice while the close runs into it
        finally:
            connection.close()

    other = threading.Thread(target=other_close)
    other.start()
    assert made.wait(timeout=10)
    timer = threading.Timer(1.0, done.set)
    timer.start()
    run = invoice_run(as_of=NOVEMBER_CLOSE, contracts=mixed)
    other.join()
    assert (run.contracts_done, run.invoices_made, run.failures) == (7, 7, [])
    assert run.invoices_created == 6  # the seventh was the other transaction's draft, finalized here
    invoices = Invoice.objects.filter(period_start=NOVEMBER.start, kind="period", contract__in=mixed)
    assert invoices.count() == 7 and set(invoices.values_list("status", flat=True)) == {"finalized"}
