"""Invoices from contracts and measured usage: drafts, finalizing (numbers, balances, freezing), void, paid."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from billing.models import Invoice, InvoiceLine
from billing.services.invoices import invoice_compute, invoice_finalize, invoice_mark_paid, invoice_void
from contracts.services import balances
from revops.errors import Conflict
from revops.periods import Period
from tests.billing.support import CLOSE, NOVEMBER, T0, use

pytestmark = pytest.mark.django_db


def lines(invoice):
    return [(line.kind, line.amount) for line in invoice.lines.order_by("position")]


def test_a_draft_bills_seats_and_overage_and_recomputes_idempotently(contract):
    use(5, 1000)  # 5,000 credits
    draft = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    # 10 seats x 40 = 400.00; (5,000 - 1,000 included) x 0.01 = 40.00
    assert lines(draft) == [("subscription", D("400.00")), ("usage", D("40.00"))]
    assert (draft.subtotal, draft.total, draft.status, draft.number) == (D("440.00"), D("440.00"), "draft", None)
    use(2, 500, prefix="late")  # late usage lands in the draft on the next computation
    again = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert again.pk == draft.pk and Invoice.objects.count() == 1
    assert lines(again) == [("subscription", D("400.00")), ("usage", D("50.00"))]


def test_finalizing_numbers_gaplessly_and_freezes_in_the_database(contract):
    use(1, 10)
    first = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    december = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    second = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=december, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    assert (first.number, second.number) == ("INV-2026-000001", "INV-2026-000002")
    assert first.due_date == dt.date(2026, 12, 31)
    for change in (
        lambda: Invoice.objects.filter(pk=first.pk).update(total=D(1)),
        lambda: Invoice.objects.filter(pk=first.pk).update(number="INV-2026-999999"),
        lambda: InvoiceLine.objects.filter(invoice=first).update(amount=D(1)),
        lambda: InvoiceLine.objects.filter(invoice=first).delete(),
        lambda: Invoice.objects.filter(pk=first.pk).delete(),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            change()
    assert Invoice.objects.get(pk=first.pk).total == D("400.00")
    # Computing a finalized period again returns it untouched.
    assert invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE).total == D("400.00")
    with pytest.raises(Conflict):
        invoice_finalize(invoice=first, as_of=CLOSE, actor=None)


def test_a_commitment_pays_at_finalization_and_a_zero_invoice_is_not_numbered(contract):
    commit = balances.balance_grant(
        contract=contract,
        kind="commit",
        amount=D(1000),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 1, 1),
        as_of=T0,
        actor=None,
    )
    use(5, 1000)
    draft = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert lines(draft)[-1] == ("commit", D("-440.00"))
    assert balances.remaining(commit) == 1000  # a draft only shows what would be drawn
    final = invoice_finalize(invoice=draft, as_of=CLOSE, actor=None)
    assert (final.total, final.zero_total, final.number) == (D("0.00"), True, None)
    assert balances.remaining(commit) == D("560.00")


def test_a_product_credit_pays_its_product_first_then_the_commitment_the_rest(contract):
    credits_product = contract.rate_card.versions.get().prices.get(product__code="credits").product
    balances.balance_grant(
        contract=contract,
        kind="credit",
        amount=D(25),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 6, 1),
        product=credits_product,
        as_of=T0,
        actor=None,
    )
    balances.balance_grant(
        contract=contract,
        kind="commit",
        amount=D(100),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 1, 1),
        as_of=T0,
        actor=None,
    )
    use(5, 1000)
    final = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    # 440 of charges; the 25 credit pays part of the 40 usage line; the commitment pays 100 of the rest: 315 due
    assert lines(final)[2:] == [("credit", D("-25.00")), ("commit", D("-100.00"))]
    assert final.total == D("315.00")


def test_void_gives_balances_back_and_paid_invoices_cannot_be_voided(contract):
    commit = balances.balance_grant(
        contract=contract,
        kind="commit",
        amount=D(100),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 1, 1),
        as_of=T0,
        actor=None,
    )
    final = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    assert balances.remaining(commit) == 0
    voided = invoice_void(invoice=final, reason="wrong seats", as_of=CLOSE, actor=None)
    assert (voided.status, voided.number) == ("void", final.number)  # the number stays used: no gaps
    assert balances.remaining(commit) == 100
    december = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    paid = invoice_mark_paid(
        invoice=invoice_finalize(
            invoice=invoice_compute(contract=contract, period=december, as_of=CLOSE), as_of=CLOSE, actor=None
        ),
        reference="wire 4471",
        as_of=CLOSE,
        actor=None,
    )
    assert paid.status == "paid"
    with pytest.raises(Conflict):
        invoice_void(invoice=paid, reason="x", as_of=CLOSE, actor=None)


def test_a_commitment_is_invoiced_up_front_once_and_then_pays_usage(contract):
    commit = balances.balance_grant(
        contract=contract,
        kind="commit",
        amount=D(5000),
        starts_on=dt.date(2026, 11, 1),
        expires_on=dt.date(2027, 11, 1),
        name="Annual commitment",
        as_of=T0,
        actor=None,
    )
    use(5, 1000)
    november = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    # The commitment's 5,000.00 is billed in money; it then pays November's 440.00 of seats and usage.
    assert lines(november) == [
        ("subscription", D("400.00")),
        ("usage", D("40.00")),
        ("commit_purchase", D("5000.00")),
        ("commit", D("-440.00")),
    ]
    assert november.total == D("5000.00")
    december = invoice_compute(contract=contract, period=Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1)), as_of=CLOSE)
    # Not billed twice; December has no credits usage, so no usage line.
    assert lines(december) == [("subscription", D("400.00")), ("commit", D("-400.00"))]
    assert balances.remaining(commit) == D("4560.00")


def test_an_unpaid_invoice_is_overdue_after_its_due_date(contract):
    final = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    assert final.due_date == dt.date(2026, 12, 31)
    assert not final.is_overdue(dt.date(2026, 12, 31)) and final.is_overdue(dt.date(2027, 1, 1))
    paid = invoice_mark_paid(invoice=final, reference="wire 1", as_of=CLOSE, actor=None)
    assert not paid.is_overdue(dt.date(2027, 1, 1))


def test_late_usage_for_a_finalized_period_is_billed_once_as_a_correction_on_the_next_invoice(contract):
    use(5, 1000)  # 5,000 credits in November: 40.00 of overage
    november = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    # Two more events for November 20th arrive on December 3rd, after November was finalized.
    use(2, 600, prefix="late", received=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))
    assert Invoice.objects.get(pk=november.pk).total == D("440.00")  # the finalized invoice never changes
    december = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    draft = invoice_compute(contract=contract, period=december, as_of=CLOSE)
    # November now: (6,200 - 1,000 included) x 0.01 = 52.00; billed 40.00: a correction of 12.00
    assert lines(draft) == [("subscription", D("400.00")), ("correction", D("12.00"))]
    final = invoice_finalize(invoice=draft, as_of=dt.datetime(2027, 1, 2, tzinfo=dt.UTC), actor=None)
    assert final.total == D("412.00")
    january = invoice_compute(
        contract=contract,
        period=Period(dt.date(2027, 1, 1), dt.date(2027, 2, 1)),
        as_of=dt.datetime(2027, 2, 1, tzinfo=dt.UTC),
    )
    assert "correction" not in [kind for kind, _ in lines(january)]  # billed once
