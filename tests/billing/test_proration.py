"""Proration timing: `immediately` bills a mid-period change at once on an off-cycle invoice; the period's invoice
shows it as already billed. `next_invoice` (the conftest contract) leaves everything on the period invoice.

Seats are 40.00 each; November has 30 days.
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
from tests.billing.support import CLOSE, NOVEMBER

pytestmark = pytest.mark.django_db
MID_NOVEMBER = dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC)


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


def off_cycle(contract):
    return list(Invoice.objects.filter(contract=contract, kind=InvoiceKind.OFF_CYCLE).order_by("pk"))


def lines(invoice):
    return [(line.kind, line.amount) for line in invoice.lines.order_by("position")]


def test_an_upgrade_is_billed_at_once_and_not_again_on_the_period_invoice(immediate):
    seats(immediate, 15)
    [extra] = off_cycle(immediate)
    # 5 more seats x 40.00 for 15 of 30 days = 100.00
    assert (extra.status, extra.number, extra.total) == ("finalized", "INV-2026-000001", D("100.00"))
    assert (extra.period_start, extra.finalized_at) == (NOVEMBER.start, MID_NOVEMBER)
    [line] = extra.lines.all()
    assert (line.kind, line.amount, line.service_start) == ("subscription", D("100.00"), dt.date(2026, 11, 16))
    assert line.description == "Seat: now 15 from 2026-11-16, prorated difference (15/30 days)"

    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    # 10 seats for 15 days = 200.00, 15 seats for 15 days = 300.00, less the 100.00 billed already
    assert lines(period) == [
        ("subscription", D("200.00")),
        ("subscription", D("300.00")),
        ("billed_off_cycle", D("-100.00")),
    ]
    assert period.lines.get(kind=LineKind.BILLED_OFF_CYCLE).description == (
        "Seat: prorated change already billed on invoice INV-2026-000001"
    )
    assert period.total == D("400.00")  # 500.00 in all over the two invoices, as with next_invoice
    final = invoice_finalize(invoice=period, as_of=CLOSE, actor=None)
    assert final.number == "INV-2026-000002"


def test_voiding_the_off_cycle_invoice_puts_the_difference_back_on_the_period_invoice(immediate):
    seats(immediate, 15)
    [extra] = off_cycle(immediate)
    invoice_void(invoice=extra, reason="customer changed their mind about billing", as_of=MID_NOVEMBER, actor=None)
    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    assert period.total == D("500.00") and not period.lines.filter(kind=LineKind.BILLED_OFF_CYCLE).exists()


def test_a_paid_off_cycle_invoice_still_counts_as_billed(immediate):
    seats(immediate, 15)
    [extra] = off_cycle(immediate)
    invoice_mark_paid(invoice=extra, reference="CARD-1", as_of=MID_NOVEMBER, actor=None)
    assert invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE).total == D("400.00")


def test_a_downgrade_is_credited_on_the_period_invoice(immediate):
    seats(immediate, 4)
    assert off_cycle(immediate) == []  # an invoice cannot be negative
    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    assert period.total == D("280.00")  # 200.00 + 4 x 40.00 x 15/30 = 80.00


def test_a_change_on_a_period_start_or_in_a_later_period_waits_for_its_period_invoice(immediate):
    seats(immediate, 15, day=dt.date(2026, 12, 1))
    seats(immediate, 20, day=dt.date(2027, 1, 10))
    assert off_cycle(immediate) == []


def test_next_invoice_contracts_keep_everything_on_the_period_invoice(contract):
    seats(contract, 15)
    assert off_cycle(contract) == []
    assert invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE).total == D("500.00")


def test_the_off_cycle_invoice_is_taxed_like_any_other(immediate):
    tax_rate_create(name="VAT", rate_percent=D(19), region="DE", effective_from=dt.date(2026, 1, 1), actor=None)
    customer_update(customer=immediate.customer, actor=None, reason="moved to Berlin", tax_region="DE")
    seats(immediate, 13)  # 3 x 40.00 x 15/30 = 60.00; 19% = 11.40
    [extra] = off_cycle(immediate)
    assert lines(extra) == [("subscription", D("60.00")), ("tax", D("11.40"))]
    assert (extra.subtotal, extra.tax_total, extra.total) == (D("60.00"), D("11.40"), D("71.40"))
    period = invoice_compute(contract=immediate, period=NOVEMBER, as_of=CLOSE)
    # 200.00 + 260.00 - 60.00 = 400.00; 19% = 76.00
    assert (period.subtotal, period.tax_total, period.total) == (D("400.00"), D("76.00"), D("476.00"))


def test_one_period_invoice_per_contract_and_period_but_off_cycle_ones_beside_it(immediate):
    seats(immediate, 15)
    seats(immediate, 16, day=dt.date(2026, 11, 21), as_of=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    assert [i.total for i in off_cycle(immediate)] == [D("100.00"), D("13.33")]  # 40.00 x 10/30 = 13.333
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
    assert Invoice.objects.filter(contract=immediate, kind=InvoiceKind.PERIOD).count() == 1


def test_the_period_close_makes_the_period_invoice_next_to_off_cycle_ones(immediate):
    seats(immediate, 15)
    invoice_run(as_of=dt.datetime(2026, 12, 10, tzinfo=dt.UTC))
    period = Invoice.objects.get(contract=immediate, kind=InvoiceKind.PERIOD, period_start=NOVEMBER.start)
    assert period.total == D("400.00")


def test_the_subscription_api_bills_at_once_as_of_now(immediate, write_client):
    with clock.frozen_at(MID_NOVEMBER):
        response = write_client.post(
            f"/api/v1/contracts/{immediate.pk}/subscriptions",
            {"product": "seat", "quantity": "12", "effective_date": "2026-11-16", "reason": "two more"},
            format="json",
        )
    assert response.status_code == 201, response.json()
    [extra] = off_cycle(immediate)
    assert (extra.total, extra.finalized_at) == (D("40.00"), MID_NOVEMBER)  # 2 x 40.00 x 15/30


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
    # Basic: -10 x 40.00 x 15/30 = -200.00; Pro: +10 x 60.00 x 15/30 = +300.00; net 100.00
    assert lines(extra) == [("subscription", D("-200.00")), ("subscription", D("300.00"))]
    assert extra.total == D("100.00")
    period = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    # 200.00 Basic + 300.00 Pro, less what was billed: +200.00 for Basic, -300.00 for Pro
    assert lines(period) == [
        ("subscription", D("200.00")),
        ("subscription", D("300.00")),
        ("billed_off_cycle", D("200.00")),
        ("billed_off_cycle", D("-300.00")),
    ]
    assert period.total == D("400.00")  # 500.00 over both invoices


def test_a_downgrade_plan_change_waits_for_the_period_invoice(plans):
    contract, basic, pro = plans
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
    assert invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE).total == D("350.00")
