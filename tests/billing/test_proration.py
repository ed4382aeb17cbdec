"""Proration timing: `immediately` bills a mid-period change at once on an off-cycle invoice; the period's invoice
counts it as already billed. `next_invoice` (the conftest contract) leaves everything on the period invoice.

Seats are 40.00 each, billed in advance; November has 30 days. A change is billed at once only in a period
something was billed for already: most tests first finalize October's invoice (`billed_ahead`), which bills
October (nothing billed it before) and November's seats in advance, and takes INV-2026-000001.
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from billing.models import Invoice, InvoiceKind, LineKind
from billing.services.invoices import invoice_compute, invoice_finalize, invoice_mark_paid, invoice_void
from billing.services.runs import invoice_run
from billing.services.taxes import tax_rate_create
from catalog.models import Product
from catalog.services import products, rate_cards
from contracts.models import Customer
from contracts.services import contracts as svc
from contracts.services.customers import customer_update
from revops import clock
from revops.periods import Period
from tests.billing.support import CLOSE, NOVEMBER

pytestmark = pytest.mark.django_db
MID_NOVEMBER = dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC)
OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
OCTOBER_CLOSE = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def immediate(contract):
    """Beta: 10 seats on the same card, with proration billed immediately."""
    customer = Customer.objects.create(external_id="beta", name="Beta", currency="USD")
    made = svc.contract_create(
        customer=customer,
        rate_card=contract.rate_card,
        start_date=dt.date(2026, 1, 1),
        actor=None,
        proration="immediately",
        subscriptions=[(Product.objects.get(code="seat"), D(10))],
    )
    return svc.contract_activate(contract=made, actor=None)


def seats(contract, quantity, day=dt.date(2026, 11, 16), as_of=MID_NOVEMBER, **kwargs):
    return svc.subscription_change(
        contract=contract,
        product=Product.objects.get(code="seat"),
        quantity=D(quantity),
        effective_date=day,
        actor=None,
        as_of=as_of,
        **kwargs,
    )


def billed_ahead(contract):
    """October's invoice, finalized: it bills November's fees in advance (and October's, billed by nothing before)."""
    october = invoice_compute(contract=contract, period=OCTOBER, as_of=OCTOBER_CLOSE)
    return invoice_finalize(invoice=october, as_of=OCTOBER_CLOSE, actor=None)


def off_cycle(contract):
    return list(Invoice.objects.filter(contract=contract, kind=InvoiceKind.OFF_CYCLE).order_by("pk"))


def lines(invoice):
    return [(line.kind, line.amount) for line in invoice.lines.order_by("position")]


def test_an_upgrade_is_billed_at_once_and_not_again_on_the_period_invoice(immediate):
    october = billed_ahead(immediate)
    assert (october.number, october.total) == ("INV-2026-000001", D("800.00"))  # October 400.00, November 400.00
    seats(immediate, 15)
    [extra] = off_cycle(immediate)
    # November now: 10 seats for 15 days = 200.00, 15 seats for 15 days = 300.00; less the 400.00 billed ahead:
    # 5 more seats x 40.00 for 15 of 30 days = 100.00
    assert (extra.status, extra.number, extra.total) == ("finalized", "INV-2026-000002", D("100.00"))
    assert (extra.period_start, extra.finalized_at) == (NOVEMBER.start, MID_NOVEMBER)
    [line] = extra.lines.all()
    assert (line.kind, line.amount, line.service_start) == ("subscription", D("100.00"), dt.date(2026, 11, 16))
    assert line.description == "Seat: now 15 from 2026-11-16, prorated difference (15/30 days)"

    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    # November as it turned out (500.00) was billed: 400.00 ahead on October's invoice and 100.00 at once.
    # No line for November; only December's 15 seats in advance: 600.00.
    assert lines(period) == [("subscription", D("600.00"))]
    assert period.lines.get().service_start == dt.date(2026, 12, 1)
    final = invoice_finalize(invoice=period, as_of=CLOSE, actor=None)
    assert final.number == "INV-2026-000003"


def test_a_later_change_in_the_period_is_settled_against_each_invoice_that_billed_it(immediate):
    billed_ahead(immediate)
    seats(immediate, 15)  # billed at once: 100.00 on INV-2026-000002
    seats(immediate, 12, day=dt.date(2026, 11, 21), as_of=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    # November now: 200.00 + 15 x 40.00 x 5/30 (100.00) + 12 x 40.00 x 10/30 (160.00) = 460.00; billed 500.00:
    # a decrease, not billed at once.
    assert len(off_cycle(immediate)) == 1
    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    assert [(line.kind, line.description, line.amount) for line in period.lines.order_by("position")] == [
        ("subscription", "Seat: 10 x 2026-11-01 to 2026-11-16 (prorated 15/30 days)", D("200.00")),
        ("subscription", "Seat: 15 x 2026-11-16 to 2026-11-21 (prorated 5/30 days)", D("100.00")),
        ("subscription", "Seat: 12 x 2026-11-21 to 2026-12-01 (prorated 10/30 days)", D("160.00")),
        ("billed_in_advance", "Seat: 2026-11-01 to 2026-12-01 billed in advance on invoice INV-2026-000001",
         D("-400.00")),
        ("billed_off_cycle",
         "Seat: 2026-11-01 to 2026-12-01 prorated change already billed on invoice INV-2026-000002",
         D("-100.00")),
        ("subscription", "Seat: 12 x 2026-12-01 to 2027-01-01", D("480.00")),
    ]  # fmt: skip
    assert period.total == D("440.00")  # 460.00 - 500.00 = -40.00 for November, then December's 480.00


def test_voiding_the_off_cycle_invoice_puts_the_difference_back_on_the_period_invoice(immediate):
    billed_ahead(immediate)
    seats(immediate, 15)
    [extra] = off_cycle(immediate)
    invoice_void(invoice=extra, reason="customer changed their mind about billing", as_of=MID_NOVEMBER, actor=None)
    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    # 200.00 + 300.00 - 400.00 billed ahead = 100.00 back on it, then December's 600.00
    assert lines(period) == [
        ("subscription", D("200.00")),
        ("subscription", D("300.00")),
        ("billed_in_advance", D("-400.00")),
        ("subscription", D("600.00")),
    ]
    assert period.total == D("700.00") and not period.lines.filter(kind=LineKind.BILLED_OFF_CYCLE).exists()


def test_a_paid_off_cycle_invoice_still_counts_as_billed(immediate):
    billed_ahead(immediate)
    seats(immediate, 15)
    [extra] = off_cycle(immediate)
    invoice_mark_paid(invoice=extra, reference="CARD-1", as_of=MID_NOVEMBER, actor=None)
    # November's 500.00 billed (400.00 ahead + 100.00 at once): only December's 15 seats, 600.00
    assert invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE).total == D("600.00")


def test_a_downgrade_is_credited_on_the_period_invoice(immediate):
    billed_ahead(immediate)
    seats(immediate, 4)
    assert off_cycle(immediate) == []  # an off-cycle invoice cannot be negative
    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    # 200.00 + 4 x 40.00 x 15/30 (80.00) - 400.00 billed ahead = -120.00; December's 4 seats: 160.00
    assert lines(period) == [
        ("subscription", D("200.00")),
        ("subscription", D("80.00")),
        ("billed_in_advance", D("-400.00")),
        ("subscription", D("160.00")),
    ]
    assert period.total == D("40.00")


def test_a_change_on_a_period_start_or_in_a_later_period_waits_for_its_period_invoice(immediate):
    billed_ahead(immediate)  # November billed; December and January not yet
    seats(immediate, 15, day=dt.date(2026, 12, 1))
    seats(immediate, 20, day=dt.date(2027, 1, 10))
    assert off_cycle(immediate) == []


def test_next_invoice_contracts_keep_everything_on_the_period_invoice(contract):
    billed_ahead(contract)
    seats(contract, 15)
    assert off_cycle(contract) == []
    # 200.00 + 300.00 - 400.00 billed ahead, then December's 15 seats: 100.00 + 600.00
    assert invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE).total == D("700.00")


def test_the_off_cycle_invoice_is_taxed_like_any_other(immediate):
    tax_rate_create(name="VAT", rate_percent=D(19), region="DE", effective_from=dt.date(2026, 1, 1), actor=None)
    customer_update(customer=immediate.customer, actor=None, reason="moved to Berlin", tax_region="DE")
    billed_ahead(immediate)
    seats(immediate, 13)  # 3 x 40.00 x 15/30 = 60.00; 19% = 11.40
    [extra] = off_cycle(immediate)
    assert lines(extra) == [("subscription", D("60.00")), ("tax", D("11.40"))]
    assert (extra.subtotal, extra.tax_total, extra.total) == (D("60.00"), D("11.40"), D("71.40"))
    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    # November (200.00 + 260.00) billed already (400.00 ahead + 60.00 at once): December's 13 seats, 520.00;
    # 19% = 98.80
    assert (period.subtotal, period.tax_total, period.total) == (D("520.00"), D("98.80"), D("618.80"))


def test_one_period_invoice_per_contract_and_period_but_off_cycle_ones_beside_it(immediate):
    billed_ahead(immediate)
    seats(immediate, 15)
    seats(immediate, 16, day=dt.date(2026, 11, 21), as_of=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    # 200.00 + 100.00 + 16 x 40.00 x 10/30 (213.33) = 513.33, less 400.00 + 100.00 billed: 13.33
    assert [i.total for i in off_cycle(immediate)] == [D("100.00"), D("13.33")]
    invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(
            contract=immediate,
            customer=immediate.customer,
            kind=InvoiceKind.PERIOD,
            period_start=NOVEMBER.start,
            period_end=NOVEMBER.end,
            currency="USD",
        )
    november = Invoice.objects.filter(contract=immediate, period_start=NOVEMBER.start)
    assert (november.filter(kind=InvoiceKind.PERIOD).count(), november.filter(kind=InvoiceKind.OFF_CYCLE).count()) == (
        1,
        2,
    )


def test_the_period_close_makes_the_period_invoice_next_to_off_cycle_ones(immediate):
    # October's close (and the periods before it, and the opening invoice) bills November ahead.
    invoice_run(as_of=dt.datetime(2026, 11, 4, 12, 0, tzinfo=dt.UTC), contracts=[immediate])
    seats(immediate, 15)
    [extra] = off_cycle(immediate)
    assert extra.total == D("100.00")  # 200.00 + 300.00 - 400.00
    invoice_run(as_of=dt.datetime(2026, 12, 10, tzinfo=dt.UTC))
    period = Invoice.objects.get(contract=immediate, kind=InvoiceKind.PERIOD, period_start=NOVEMBER.start)
    assert period.status == "finalized"
    # November settled (400.00 ahead + 100.00 at once): December's 15 seats only
    assert lines(period) == [("subscription", D("600.00"))]


def test_the_subscription_api_bills_at_once_as_of_now(immediate, write_client):
    billed_ahead(immediate)
    with clock.frozen_at(MID_NOVEMBER):
        response = write_client.post(
            f"/api/v1/contracts/{immediate.pk}/subscriptions",
            {"product": "seat", "quantity": "12", "effective_date": "2026-11-16", "reason": "two more"},
            format="json",
        )
    assert response.status_code == 201, response.json()
    [extra] = off_cycle(immediate)
    # 200.00 + 12 x 40.00 x 15/30 (240.00) - 400.00 billed ahead = 2 x 40.00 x 15/30
    assert (extra.total, extra.finalized_at) == (D("40.00"), MID_NOVEMBER)


@pytest.fixture
def plans(db):
    """Gamma on Basic (40.00 a seat) with Pro (60.00 a seat) on the same card, proration billed immediately."""
    basic = products.product_create(code="basic", name="Basic plan", kind="subscription", actor=None)
    pro = products.product_create(code="pro", name="Pro plan", kind="subscription", actor=None)
    card = rate_cards.rate_card_create(code="plans", name="Plans", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    for product, price in ((basic, D(40)), (pro, D(60))):
        rate_cards.price_set(
            version=version, product=product, values={"model": "per_unit", "unit_price": price}, actor=None
        )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    customer = Customer.objects.create(external_id="gamma", name="Gamma", currency="USD")
    made = svc.contract_create(
        customer=customer,
        rate_card=card,
        start_date=dt.date(2026, 1, 1),
        actor=None,
        proration="immediately",
        subscriptions=[(basic, D(10))],
    )
    return svc.contract_activate(contract=made, actor=None), basic, pro


def test_a_plan_change_is_one_off_cycle_invoice_for_the_net_difference(plans):
    contract, basic, pro = plans
    billed_ahead(contract)  # November: 10 x Basic, 400.00
    svc.plan_change(
        contract=contract,
        from_product=basic,
        to_product=pro,
        quantity=D(10),
        on=dt.date(2026, 11, 16),
        timing="immediate",
        actor=None,
        as_of=MID_NOVEMBER,
    )
    [extra] = off_cycle(contract)
    # Basic: 10 x 40.00 x 15/30 = 200.00 now, 400.00 billed: -200.00; Pro: +10 x 60.00 x 15/30 = +300.00;
    # net 100.00
    assert lines(extra) == [("subscription", D("-200.00")), ("subscription", D("300.00"))]
    assert extra.total == D("100.00")
    period = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    # November billed as it turned out: Basic 400.00 - 200.00 = 200.00, Pro 300.00. No line for it; December's
    # 10 x Pro ahead: 600.00
    assert lines(period) == [("subscription", D("600.00"))]
    assert period.lines.get().product == pro


def test_a_downgrade_plan_change_waits_for_the_period_invoice(plans):
    contract, basic, pro = plans
    billed_ahead(contract)  # November: 10 x Basic, 400.00
    svc.plan_change(
        contract=contract,
        from_product=basic,
        to_product=pro,
        quantity=D(5),
        on=dt.date(2026, 11, 16),
        timing="immediate",
        actor=None,
        as_of=MID_NOVEMBER,
    )  # -200.00 + 5 x 60.00 x 15/30 = 150.00: a net decrease
    assert off_cycle(contract) == []
    # November: Basic 200.00 - 400.00 billed ahead, Pro 150.00; December's 5 x Pro ahead: 300.00
    period = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert lines(period) == [
        ("subscription", D("200.00")),  # Basic, 1-16 November
        ("billed_in_advance", D("-400.00")),  # Basic, billed on October's invoice
        ("subscription", D("150.00")),  # Pro, 16 November to 1 December
        ("subscription", D("300.00")),  # Pro, December ahead
    ]
    assert period.total == D("250.00")
