"""Discounts as lines of their own: the list price on the line, the saving on a negative `discount` line.

The contract (tests/billing/conftest.py): 10 seats at 40.00 and AI credits at 0.01 with 1,000 included.
November's invoice, computed with nothing billed before, bills November's seats and usage, then December's
seats in advance (the amendment's terms apply to both: it is effective from 1 November).
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.models import LineKind
from billing.services.invoices import invoice_compute, invoice_finalize
from catalog.models import Product
from contracts.selectors import contract_preview
from contracts.services import contracts as svc
from revops.periods import Period
from tests.billing.support import CLOSE, NOVEMBER, use
from usage.models import UsageEvent
from usage.selectors import contract_usage_quantities

pytestmark = pytest.mark.django_db


def amend(contract, *overrides):
    svc.contract_amend(
        contract=contract,
        effective_from=dt.date(2026, 11, 1),
        actor=None,
        reason="renewal terms",
        terms=svc.Terms(overrides=list(overrides)),
    )


def lines(invoice):
    return [(line.kind, line.description, line.amount) for line in invoice.lines.order_by("position")]


DECEMBER = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))


def net_total(contract):
    """What the discounted prices alone bill for November and December's fees ahead (December has no usage):
    the invoice total must not change with the split."""
    total = D(0)
    for period in (NOVEMBER, DECEMBER):
        usage = contract_usage_quantities(contract, period)
        total += sum((line.amount for line in contract_preview(contract=contract, period=period, usage=usage)), D(0))
    return total


def test_a_product_discount_shows_the_list_price_and_the_saving(contract):
    seat = Product.objects.get(code="seat")
    amend(contract, svc.OverrideSpec("discount", product=seat, discount_percent=D(15)))
    use(6, 1000)  # 6,000 credits: 5,000 beyond the 1,000 included, at 0.01 = 50.00
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    # 10 seats x 40 = 400.00 at list; 15% off is -60.00; the same for December's seats billed ahead
    assert lines(invoice) == [
        ("subscription", "Seat: 10 x 2026-11-01 to 2026-12-01", D("400.00")),
        ("discount", "Seat: 15% contract discount", D("-60.00")),
        ("usage", "AI credits", D("50.00")),
        ("subscription", "Seat: 10 x 2026-12-01 to 2027-01-01", D("400.00")),
        ("discount", "Seat: 15% contract discount", D("-60.00")),
    ]
    seat_prices = [line.unit_price for line in invoice.lines.filter(kind=LineKind.SUBSCRIPTION)]
    assert seat_prices == [D(40), D(40)]  # the list unit price, not 34
    # 400 - 60 + 50 + 400 - 60 = 730
    assert (invoice.subtotal, invoice.total) == (D("730.00"), D("730.00"))
    assert invoice.total == net_total(contract)


def test_the_discount_is_split_also_when_a_usage_product_had_no_use(contract):
    amend(contract, svc.OverrideSpec("discount", discount_percent=D(10)))
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert [(kind, amount) for kind, _, amount in lines(invoice)] == [
        ("subscription", D("400.00")),
        ("discount", D("-40.00")),
        ("subscription", D("400.00")),  # December ahead
        ("discount", D("-40.00")),
    ]


def test_a_whole_card_discount_splits_every_priced_line(contract):
    amend(contract, svc.OverrideSpec("discount", discount_percent=D(10)))
    use(6, 1000)
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert [(kind, amount) for kind, _, amount in lines(invoice)] == [
        ("subscription", D("400.00")),
        ("discount", D("-40.00")),
        ("usage", D("50.00")),
        ("discount", D("-5.00")),
        ("subscription", D("400.00")),  # December ahead
        ("discount", D("-40.00")),
    ]
    assert invoice.lines.filter(kind="discount").first().description == "Seat: 10% contract discount on all products"
    usage_line = invoice.lines.get(kind=LineKind.USAGE)
    assert usage_line.breakdown[-1]["unit_price"] == "0.01"  # the breakdown shows list prices too
    # November 400 - 40 + 50 - 5 = 405; December 400 - 40 = 360
    assert invoice.total == D("765.00") == net_total(contract)


def test_the_discount_is_net_less_list_so_rounding_never_moves_the_total(contract):
    credits = Product.objects.get(code="credits")
    amend(contract, svc.OverrideSpec("discount", product=credits, discount_percent=D("12.5")))
    use(1, 1234)  # 234 beyond the allowance: list 234 x 0.01 = 2.34; net 234 x 0.00875 = 2.0475 -> 2.05
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert [(kind, amount) for kind, _, amount in lines(invoice)] == [
        ("subscription", D("400.00")),
        ("usage", D("2.34")),
        ("discount", D("-0.29")),
        ("subscription", D("400.00")),  # December ahead, no discount on seats
    ]
    assert invoice.total == D("802.05") == net_total(contract)  # 400 + 2.05 + 400


def test_a_multiplier_stays_in_the_unit_price(contract):
    seat = Product.objects.get(code="seat")
    amend(contract, svc.OverrideSpec("multiplier", product=seat, multiplier=D("0.9")))
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    # November and December (ahead): 10 x 40 x 0.9 = 360.00 each
    assert [(kind, amount) for kind, _, amount in lines(invoice)] == [
        ("subscription", D("360.00")),
        ("subscription", D("360.00")),
    ]
    assert [line.unit_price for line in invoice.lines.all()] == [D(36), D(36)]


def test_usage_without_any_use_has_no_line_but_covered_usage_keeps_its_line(contract):
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert [kind for kind, _, _ in lines(invoice)] == ["subscription", "subscription"]  # November, December ahead
    use(1, 800)  # all within the 1,000 included: shown, at 0.00, with its quantity
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    usage_line = invoice.lines.get(kind=LineKind.USAGE)
    assert (usage_line.quantity, usage_line.amount) == (D(800), D("0.00"))


def test_a_late_usage_correction_compares_with_what_was_billed_after_the_discount(contract):
    amend(contract, svc.OverrideSpec("discount", discount_percent=D(10)))
    use(6, 1000)  # November billed: credits 50.00 list, -5.00 discount: 45.00 net
    november = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    assert november.total == D("765.00")  # 400 - 40 + 50 - 5, and December's seats ahead: 400 - 40
    use(1, 1000, prefix="late")  # received after finalizing: 6,000 beyond the allowance at 0.009 = 54.00 now
    UsageEvent.objects.filter(transaction_id="late0").update(received_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    december = invoice_compute(contract=contract, period=Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1)), as_of=CLOSE)
    correction = december.lines.get(kind=LineKind.CORRECTION)
    assert correction.amount == D("9.00")  # 54.00 - 45.00, not 54.00 - 50.00


def test_a_credit_note_credits_a_discounted_line_at_what_was_charged(contract):
    from billing.services.credit_notes import credit_note_create

    seat = Product.objects.get(code="seat")
    amend(contract, svc.OverrideSpec("discount", product=seat, discount_percent=D(15)))
    invoice = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    note = credit_note_create(invoice=invoice, reason="goodwill", as_of=CLOSE, actor=None)
    # November's and December's (ahead) seats, each 400.00 list less the 60.00 discount, not 800.00
    assert note.total == D("680.00") == invoice.total
