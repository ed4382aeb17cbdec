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
    # Nothing billed November before: 10 seats x 40 = 400.00; (5,000 - 1,000 included) x 0.01 = 40.00;
    # then December's 10 seats in advance, 400.00: 840.00 in all.
    assert lines(draft) == [("subscription", D("400.00")), ("usage", D("40.00")), ("subscription", D("400.00"))]
    assert (draft.subtotal, draft.total, draft.status, draft.number) == (D("840.00"), D("840.00"), "draft", None)
    use(2, 500, prefix="late")  # late usage lands in the draft on the next computation
    again = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert again.pk == draft.pk and Invoice.objects.count() == 1
    assert lines(again) == [("subscription", D("400.00")), ("usage", D("50.00")), ("subscription", D("400.00"))]


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
    # November: 400.00 + 10 credits inside the allowance (0.00) + December ahead 400.00; December: only
    # January ahead (December was billed on November's invoice).
    assert (first.total, second.total) == (D("800.00"), D("400.00"))
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
    assert Invoice.objects.get(pk=first.pk).total == D("800.00")
    # Computing a finalized period again returns it untouched.
    assert invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE).total == D("800.00")
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
    # 400.00 (November) + 40.00 usage + 400.00 (December ahead) = 840.00, all within the 1,000.00
    assert lines(draft)[-1] == ("commit", D("-840.00"))
    assert balances.remaining(commit) == 1000  # a draft only shows what would be drawn
    final = invoice_finalize(invoice=draft, as_of=CLOSE, actor=None)
    assert (final.total, final.zero_total, final.number) == (D("0.00"), True, None)
    assert balances.remaining(commit) == D("160.00")  # 1,000.00 - 840.00


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
    # 840 of charges (400 November + 40 usage + 400 December ahead); the 25 credit pays part of the 40 usage
    # line; the commitment pays 100 of the rest: 840 - 25 - 100 = 715 due
    assert lines(final)[3:] == [("credit", D("-25.00")), ("commit", D("-100.00"))]
    assert final.total == D("715.00")


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
    # The commitment's 5,000.00 is billed in money; it then pays the invoice's 840.00 of seats and usage
    # (400.00 November + 40.00 usage + 400.00 December ahead).
    assert lines(november) == [
        ("subscription", D("400.00")),
        ("usage", D("40.00")),
        ("subscription", D("400.00")),
        ("commit_purchase", D("5000.00")),
        ("commit", D("-840.00")),
    ]
    assert november.total == D("5000.00")
    december = invoice_compute(contract=contract, period=Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1)), as_of=CLOSE)
    # The commitment is not billed twice; December has no credits usage, so no usage line, and its seats were
    # billed ahead in November: only January's 400.00 in advance, paid by the commitment.
    assert lines(december) == [("subscription", D("400.00")), ("commit", D("-400.00"))]
    assert december.lines.get(kind="subscription").service_start == dt.date(2027, 1, 1)
    assert balances.remaining(commit) == D("4160.00")  # 5,000.00 - 840.00: a draft draws nothing


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
    # the finalized invoice never changes: 400.00 + 40.00 + 400.00 (December ahead)
    assert Invoice.objects.get(pk=november.pk).total == D("840.00")
    december = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    draft = invoice_compute(contract=contract, period=december, as_of=CLOSE)
    # November now: (6,200 - 1,000 included) x 0.01 = 52.00; billed 40.00: a correction of 12.00.
    # December's seats were billed ahead on November's invoice: only January's 400.00 in advance.
    assert lines(draft) == [("subscription", D("400.00")), ("correction", D("12.00"))]
    final = invoice_finalize(invoice=draft, as_of=dt.datetime(2027, 1, 2, tzinfo=dt.UTC), actor=None)
    assert final.total == D("412.00")
    january = invoice_compute(
        contract=contract,
        period=Period(dt.date(2027, 1, 1), dt.date(2027, 2, 1)),
        as_of=dt.datetime(2027, 2, 1, tzinfo=dt.UTC),
    )
    assert "correction" not in [kind for kind, _ in lines(january)]  # billed once
