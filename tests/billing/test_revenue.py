"""Revenue schedules worked by hand to the cent: ratable fees by day and month, commitments drawn then expired,
voids and credit notes; and the property that a schedule always sums to its line."""

import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from billing.models import InvoiceLine, RevenueEntry
from billing.revenue.recognition import lines_revenue
from billing.revenue.schedules import revenue_schedule_create
from billing.services.credit_notes import credit_note_create
from billing.services.invoices import invoice_void
from contracts.services import balances
from tests.billing.revenue_support import another_contract, at, close, commitment_bought_in_january, schedule, spend

pytestmark = pytest.mark.django_db


def figures_of(line):
    [found] = [f for f in lines_revenue() if f.line_id == line.pk]
    return found


def fee_of(invoice, start=None):
    """The invoice's subscription line for the service starting on `start` (the invoice's own period by default):
    an invoice also bills the next period's fees ahead."""
    return invoice.lines.get(kind="subscription", service_start=start or invoice.period_start)


def by_month(entries):
    months = {}
    for month, amount in entries:
        months[f"{month:%Y-%m}"] = months.get(f"{month:%Y-%m}", D(0)) + amount
    return months


def test_a_monthly_subscription_from_the_15th_splits_over_two_months_by_days(contract):
    beta = another_contract(contract, "beta", seats=1, anchor=dt.date(2026, 1, 15))
    invoice = close(beta, dt.date(2026, 1, 15), dt.date(2026, 2, 15), as_of=at(2026, 2, 15))
    fee = fee_of(invoice)
    assert fee.amount == D("40.00")
    # 31 days: 17 in January (15th-31st), 14 in February. 40 x 17/31 = 21.935... -> 21.94; the rest, 18.06.
    assert schedule(fee) == [("2026-01", D("21.94")), ("2026-02", D("18.06"))]
    # The next period's fee, billed ahead on the same invoice: 15 Feb-15 Mar, 28 days, 14 in each month.
    ahead = fee_of(invoice, dt.date(2026, 2, 15))
    assert ahead.amount == D("40.00")
    assert schedule(ahead) == [("2026-02", D("20.00")), ("2026-03", D("20.00"))]
    assert not invoice.lines.filter(kind="usage").exists()  # no usage: no line, so nothing to schedule


def test_a_quarterly_fee_splits_over_its_three_months(contract):
    q = another_contract(contract, "quarterly", seats=10, cadence="quarterly")
    invoice = close(q, dt.date(2026, 1, 1), dt.date(2026, 4, 1), as_of=at(2026, 4, 1))
    fee = fee_of(invoice)
    # 400.00 over 90 days: 31/90 -> 137.78, 28/90 -> 124.44, and March takes the rest: 400 - 262.22.
    assert schedule(fee) == [("2026-01", D("137.78")), ("2026-02", D("124.44")), ("2026-03", D("137.78"))]
    # The second quarter, billed ahead: 91 days, 30/91 -> 131.87, 31/91 -> 136.26, June the rest: 400 - 268.13.
    ahead = fee_of(invoice, dt.date(2026, 4, 1))
    assert schedule(ahead) == [("2026-04", D("131.87")), ("2026-05", D("136.26")), ("2026-06", D("131.87"))]


def test_a_commitment_is_deferred_then_recognized_as_drawn_and_the_rest_at_expiry(contract):
    """The worked example of billing/revenue/recognition.py: a 1,000 commitment bought in January, 100 of
    February usage and 300 of March usage paid from it, 600 recognized when it expires in July."""
    gamma, purchase = commitment_bought_in_january(contract)
    january, commit = purchase.invoice, purchase.balance
    assert purchase.amount == D("1000.00") and january.total == D("1000.00")
    assert schedule(purchase) == []  # deferred: nothing recognized when billed
    spend("gamma", 11_000, on=at(2026, 2, 10), prefix="feb")  # (11,000 - 1,000 included) x 0.01 = 100.00
    february = close(gamma, dt.date(2026, 2, 1), dt.date(2026, 3, 1), as_of=at(2026, 3, 1))
    assert [(x.kind, x.amount) for x in february.lines.order_by("position")] == [
        ("usage", D("100.00")),
        ("commit", D("-100.00")),
    ]
    spend("gamma", 31_000, on=at(2026, 3, 10), prefix="mar")  # 300.00
    close(gamma, dt.date(2026, 3, 1), dt.date(2026, 4, 1), as_of=at(2026, 4, 1))
    balances.balance_expire(balance=commit, as_of=at(2026, 7, 1, 0), actor=None)

    recognized = {}
    for figures in lines_revenue():
        for month, amount in by_month(figures.recognized).items():
            recognized[month] = recognized.get(month, D(0)) + amount
    # February: usage 100 - commitment applied 100 + the purchase's release 100 = 100, not 0 and not 200.
    assert {m: v for m, v in recognized.items() if v} == {
        "2026-02": D("100.00"),
        "2026-03": D("300.00"),
        "2026-07": D("600.00"),
    }
    assert by_month(figures_of(purchase).recognized) == {
        "2026-02": D("100.00"),
        "2026-03": D("300.00"),
        "2026-07": D("600.00"),
    }
    assert sum(recognized.values()) == purchase.amount  # everything billed is recognized, once


def test_a_rollover_stays_deferred_and_counts_for_the_original_purchase(contract):
    gamma = another_contract(contract, "gamma")
    commit = balances.balance_grant(
        contract=gamma,
        kind="commit",
        amount=D(1000),
        starts_on=dt.date(2026, 1, 1),
        expires_on=dt.date(2026, 2, 1),
        rollover_fraction=D("0.5"),
        as_of=at(2026, 1, 1),
        actor=None,
    )
    january = close(gamma, dt.date(2026, 1, 1), dt.date(2026, 2, 1), as_of=at(2026, 1, 31))
    balances.balance_expire(balance=commit, as_of=at(2026, 2, 1, 0), actor=None)  # 500 rolls over, 500 expires
    spend("gamma", 21_000, on=at(2026, 2, 10), prefix="feb")  # 200.00, paid by the rollover
    close(gamma, dt.date(2026, 2, 1), dt.date(2026, 3, 1), as_of=at(2026, 3, 1))
    purchase = january.lines.get(kind="commit_purchase")
    # 500 expired in February (recognized), 200 drawn from the rollover in February; 300 still deferred.
    assert by_month(figures_of(purchase).recognized) == {"2026-02": D("700.00")}


def test_a_void_reverses_the_schedule_in_the_month_of_the_void(contract):
    beta = another_contract(contract, "beta", seats=1, anchor=dt.date(2026, 1, 15))
    invoice = close(beta, dt.date(2026, 1, 15), dt.date(2026, 2, 15), as_of=at(2026, 2, 15))
    invoice_void(invoice=invoice, reason="wrong customer", as_of=at(2026, 4, 2), actor=None)
    fee = figures_of(fee_of(invoice))
    assert by_month(fee.recognized) == {"2026-01": D("21.94"), "2026-02": D("18.06"), "2026-04": D("-40.00")}
    assert by_month(fee.billed) == {"2026-02": D("40.00")}
    assert by_month(fee.reversed) == {"2026-04": D("-40.00")}
    # The fee billed ahead for 15 Feb-15 Mar (20.00 + 20.00) is taken back in April too.
    ahead = figures_of(fee_of(invoice, dt.date(2026, 2, 15)))
    assert by_month(ahead.recognized) == {"2026-02": D("20.00"), "2026-03": D("20.00"), "2026-04": D("-40.00")}
    # The stored schedule is the record of what was finalized; the void is read from the invoice.
    assert schedule(fee_of(invoice)) == [("2026-01", D("21.94")), ("2026-02", D("18.06"))]


def test_a_void_before_the_schedule_ends_drops_its_later_months(contract):
    q = another_contract(contract, "quarterly", seats=10, cadence="quarterly")
    invoice = close(q, dt.date(2026, 1, 1), dt.date(2026, 4, 1), as_of=at(2026, 1, 5))  # finalized early
    invoice_void(invoice=invoice, reason="duplicate", as_of=at(2026, 2, 3), actor=None)
    fee = figures_of(fee_of(invoice))
    # January 137.78 and February 124.44 reversed in February; March's 137.78 never recognized.
    assert by_month(fee.recognized) == {"2026-01": D("137.78"), "2026-02": D("124.44") - D("262.22")}
    assert sum(a for _, a in fee.recognized) == 0
    # The second quarter, billed ahead, had recognized nothing yet: none of its months is, and all of it reversed.
    ahead = figures_of(fee_of(invoice, dt.date(2026, 4, 1)))
    assert all(amount == 0 for _, amount in ahead.recognized)
    assert by_month(ahead.reversed) == {"2026-02": D("-400.00")}


def test_a_credit_note_reduces_revenue_in_its_month(contract):
    q = another_contract(contract, "quarterly", seats=10, cadence="quarterly")
    invoice = close(q, dt.date(2026, 1, 1), dt.date(2026, 4, 1), as_of=at(2026, 1, 5))
    line = fee_of(invoice)
    credit_note_create(invoice=invoice, reason="outage", lines=[(line, D("90.00"))], as_of=at(2026, 2, 10), actor=None)
    fee = figures_of(line)
    # March loses its share: 137.78 x 90/400 = 31.0005 -> 31.00; February takes the rest of the 90: 59.00.
    assert by_month(fee.recognized) == {
        "2026-01": D("137.78"),
        "2026-02": D("124.44") - D("59.00"),
        "2026-03": D("137.78") - D("31.00"),
    }
    assert by_month(fee.reversed) == {"2026-02": D("-90.00")}
    assert sum(a for _, a in fee.recognized) == D("310.00")


def test_a_credit_note_on_a_past_month_is_all_in_its_own_month(contract):
    beta = another_contract(contract, "beta", seats=1, anchor=dt.date(2026, 1, 15))
    invoice = close(beta, dt.date(2026, 1, 15), dt.date(2026, 2, 15), as_of=at(2026, 2, 15))
    line = fee_of(invoice)
    credit_note_create(invoice=invoice, reason="goodwill", lines=[(line, D("10.00"))], as_of=at(2026, 3, 3), actor=None)
    assert by_month(figures_of(line).recognized) == {
        "2026-01": D("21.94"),
        "2026-02": D("18.06"),
        "2026-03": D("-10.00"),
    }


def test_finalizing_makes_schedules_once_and_drafts_have_none(contract):
    beta = another_contract(contract, "beta", seats=1, anchor=dt.date(2026, 1, 15))
    invoice = close(beta, dt.date(2026, 1, 15), dt.date(2026, 2, 15), as_of=at(2026, 2, 15))
    count = RevenueEntry.objects.count()
    # The fee's two months and the next period's fee billed ahead, two more (a usage product with no usage has
    # no line).
    assert count == 4
    assert revenue_schedule_create(invoice=invoice) == []
    assert RevenueEntry.objects.count() == count
    assert not InvoiceLine.objects.filter(invoice__status="draft", revenue_entries__isnull=False).exists()


def test_the_backfill_makes_missing_schedules_once(contract):
    beta = another_contract(contract, "beta", seats=1, anchor=dt.date(2026, 1, 15))
    first = close(beta, dt.date(2026, 1, 15), dt.date(2026, 2, 15), as_of=at(2026, 2, 15))
    second = close(beta, dt.date(2026, 2, 15), dt.date(2026, 3, 15), as_of=at(2026, 3, 15))
    before = sorted(RevenueEntry.objects.values_list("line_id", "month", "amount"))
    RevenueEntry.objects.filter(line__invoice=first).delete()  # as if finalized before schedules existed
    out = io.StringIO()
    call_command("revenue_schedules_backfill", stdout=out)
    # 15 Jan-15 Feb over January and February, 15 Feb-15 Mar billed ahead over February and March.
    assert out.getvalue().strip() == "4 schedule entries made for 1 invoices"
    assert sorted(RevenueEntry.objects.values_list("line_id", "month", "amount")) == before
    again = io.StringIO()
    call_command("revenue_schedules_backfill", stdout=again)
    assert again.getvalue().strip() == "0 schedule entries made for 0 invoices"
    # 15 Feb-15 Mar was billed ahead by the first invoice: the second bills only 15 Mar-15 Apr ahead, two months.
    assert RevenueEntry.objects.filter(line__invoice=second).count() == 2


def test_voiding_the_invoice_a_commitment_paid_takes_its_release_back(contract):
    gamma, purchase = commitment_bought_in_january(contract)
    spend("gamma", 11_000, on=at(2026, 2, 10), prefix="feb")  # 100.00
    february = close(gamma, dt.date(2026, 2, 1), dt.date(2026, 3, 1), as_of=at(2026, 3, 1))
    invoice_void(invoice=february, reason="usage sent twice", as_of=at(2026, 3, 5), actor=None)
    assert by_month(figures_of(purchase).recognized) == {"2026-02": D("100.00"), "2026-03": D("-100.00")}
    month_totals = {}
    for figures in lines_revenue():
        for month, amount in by_month(figures.recognized).items():
            month_totals[month] = month_totals.get(month, D(0)) + amount
    assert {m: v for m, v in month_totals.items() if v} == {"2026-02": D("100.00"), "2026-03": D("-100.00")}


def test_a_credit_note_on_a_commitment_purchase_lowers_what_is_deferred_not_revenue(contract):
    _, purchase = commitment_bought_in_january(contract)
    credit_note_create(
        invoice=purchase.invoice, reason="smaller deal", lines=[(purchase, D("200"))], as_of=at(2026, 2, 3), actor=None
    )
    figures = figures_of(purchase)
    assert by_month(figures.reversed) == {"2026-02": D("-200.00")}
    assert figures.recognized == []
