"""The monthly revenue report summed in the database (billing/revenue/flows.py): four months with two credit notes
on one line, a void before a schedule ends, a commitment credited and released, and a voided draw-down, every
figure worked out by hand; the same figures as the line-by-line rules; and a query count that stays the same
however many invoices there are."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.revenue import reports
from billing.revenue.flows import monthly_flows
from billing.revenue.recognition import lines_revenue
from billing.services.credit_notes import credit_note_create
from billing.services.invoices import invoice_void
from tests.billing.revenue_support import (
    another_contract,
    at,
    close,
    commitment_bought_in_january,
    commitment_granted,
    spend,
)
from tests.billing.test_revenue import fee_of

pytestmark = pytest.mark.django_db

Z = "0.00"


def make_four_months(contract):
    """USD on the fixture's card (seat 40 a period, AI credits 0.01 with 1,000 included a month)."""
    # q1: a quarterly fee of 400.00 finalized 5 Jan: 137.78 / 124.44 / 137.78 by days. Credited 90.00 on 10 Feb
    # (March loses 137.78 x 90/400 = 31.00, February the other 59.00) and 50.00 on 15 Feb (of the 310.00 left,
    # March's 106.78 loses 106.78 x 50/310 = 17.22, February the other 32.78): Jan 137.78, Feb 32.66, Mar 89.56.
    # The same invoice bills the second quarter ahead (400.00, deferred): April 30/91 of it, 131.87.
    q1 = another_contract(contract, "q1", seats=10, cadence="quarterly")
    first = close(q1, dt.date(2026, 1, 1), dt.date(2026, 4, 1), as_of=at(2026, 1, 5))
    fee = fee_of(first)
    for amount, day in ((D("90.00"), 10), (D("50.00"), 15)):
        credit_note_create(invoice=first, reason="outage", lines=[(fee, amount)], as_of=at(2026, 2, day), actor=None)
    # q2: the same two quarters, voided on 3 Feb: January's 137.78 and February's 124.44 are taken back in
    # February, March's never recognized; the second quarter, billed ahead, is reversed whole, never recognized.
    q2 = another_contract(contract, "q2", seats=10, cadence="quarterly")
    second = close(q2, dt.date(2026, 1, 1), dt.date(2026, 4, 1), as_of=at(2026, 1, 5))
    invoice_void(invoice=second, reason="duplicate", as_of=at(2026, 2, 3), actor=None)
    # gamma: a 1,000 commitment billed 31 Jan, 200 of it credited on 3 Feb; February's 100.00 of usage paid from
    # it (finalized 1 Mar); March's 300.00 too (finalized 1 Apr, voided 5 Apr).
    gamma, purchase = commitment_bought_in_january(contract)
    credit_note_create(
        invoice=purchase.invoice, reason="smaller deal", lines=[(purchase, D("200"))], as_of=at(2026, 2, 3), actor=None
    )
    spend("gamma", 11_000, on=at(2026, 2, 10), prefix="feb")
    close(gamma, dt.date(2026, 2, 1), dt.date(2026, 3, 1), as_of=at(2026, 3, 1))
    spend("gamma", 31_000, on=at(2026, 3, 10), prefix="mar")
    march = close(gamma, dt.date(2026, 3, 1), dt.date(2026, 4, 1), as_of=at(2026, 4, 1))
    invoice_void(invoice=march, reason="usage sent twice", as_of=at(2026, 4, 5), actor=None)


# currency, month, product, billed, reversed, recognized, deferred at month end
FOUR_MONTHS = [
    # January: both contracts' two quarters (4 x 400.00) and the commitment (1,000.00) billed; the fees' Januaries
    # recognized (2 x 137.78); deferred: the seats' 1,600.00 - 275.56.
    ["USD", "2026-01", "(commit)", Z, Z, Z, Z],
    ["USD", "2026-01", "(commit_purchase)", "1000.00", Z, Z, "1000.00"],
    ["USD", "2026-01", "credits", Z, Z, Z, Z],
    ["USD", "2026-01", "seat", "1600.00", Z, "275.56", "1324.44"],
    ["USD", "2026-01", "TOTAL", "2600.00", Z, "275.56", "2324.44"],
    # February: q1's credits (140.00) and q2's void (800.00) reversed; recognized q1 32.66 and q2 -137.78
    # (its 137.78 + 124.44 taken back less February's own 124.44); the draw-down counts once (100 - 100 + 100).
    # The seats' deferred: q1's March 89.56 and its second quarter 400.00.
    ["USD", "2026-02", "(commit)", Z, Z, "-100.00", "100.00"],
    ["USD", "2026-02", "(commit_purchase)", Z, "-200.00", "100.00", "700.00"],
    ["USD", "2026-02", "credits", Z, Z, "100.00", "-100.00"],
    ["USD", "2026-02", "seat", Z, "-940.00", "-105.12", "489.56"],
    ["USD", "2026-02", "TOTAL", Z, "-1140.00", "-5.12", "1189.56"],
    # March: February's invoice billed (100 - 100); 300.00 drawn down; q1's March.
    ["USD", "2026-03", "(commit)", "-100.00", Z, "-300.00", "300.00"],
    ["USD", "2026-03", "(commit_purchase)", Z, Z, "300.00", "400.00"],
    ["USD", "2026-03", "credits", "100.00", Z, "300.00", "-300.00"],
    ["USD", "2026-03", "seat", Z, Z, "89.56", "400.00"],
    ["USD", "2026-03", "TOTAL", Z, Z, "389.56", "800.00"],
    # April: March's invoice billed and voided: its usage and draw-down reversed, the release taken back. q1's
    # second quarter starts: 131.87 recognized, 400 - 131.87 = 268.13 still deferred (May and June).
    ["USD", "2026-04", "(commit)", "-300.00", "300.00", "300.00", Z],
    ["USD", "2026-04", "(commit_purchase)", Z, Z, "-300.00", "700.00"],
    ["USD", "2026-04", "credits", "300.00", "-300.00", "-300.00", Z],
    ["USD", "2026-04", "seat", Z, Z, "131.87", "268.13"],
    ["USD", "2026-04", "TOTAL", Z, Z, "-168.13", "968.13"],
    ["USD", "TOTAL", "(commit)", "-400.00", "300.00", "-100.00", Z],
    ["USD", "TOTAL", "(commit_purchase)", "1000.00", "-200.00", "100.00", "700.00"],
    ["USD", "TOTAL", "credits", "400.00", "-300.00", "100.00", Z],
    ["USD", "TOTAL", "seat", "1600.00", "-940.00", "391.87", "268.13"],
    ["USD", "TOTAL", "TOTAL", "2600.00", "-1140.00", "491.87", "968.13"],
]


def report_rows(first: dt.date, last: dt.date) -> list[list[str]]:
    text = reports.revenue_report_csv(reports.revenue_report(first=first, last=last))
    return [line.split(",") for line in text.splitlines()[1:]]


def test_four_months_of_credits_voids_and_a_commitment_figure_by_figure(contract):
    make_four_months(contract)
    assert report_rows(dt.date(2026, 1, 1), dt.date(2026, 4, 1)) == FOUR_MONTHS


def test_what_was_deferred_before_the_range_opens_it(contract):
    make_four_months(contract)
    [usd] = reports.revenue_report(first=dt.date(2026, 2, 1), last=dt.date(2026, 4, 1))
    assert [f"{usd.months[m].deferred:.2f}" for m in sorted(usd.months)] == ["1189.56", "800.00", "968.13"]
    assert f"{usd.products[dt.date(2026, 2, 1)]['seat'].deferred:.2f}" == "489.56"  # q1's March and second quarter
    # Nothing billed from February on; recognized -5.12 + 389.56 - 168.13.
    assert (f"{usd.totals.billed:.2f}", f"{usd.totals.recognized:.2f}") == ("0.00", "216.31")


def test_the_sums_are_the_line_by_line_rules_summed(contract):
    make_four_months(contract)
    expected = defaultdict(lambda: [D(0), D(0), D(0)])
    for line in lines_revenue():
        for column, entries in enumerate((line.billed, line.reversed, line.recognized)):
            for month, amount in entries:
                expected[(line.currency, line.product, month)][column] += amount
    found = {
        (currency, product, month): figures
        for (currency, product), months in monthly_flows().items()
        for month, figures in months.items()
    }
    assert {k: v for k, v in found.items() if any(v)} == {k: v for k, v in expected.items() if any(v)}


def _one_customer_of_everything(contract, name: str) -> None:
    """A quarterly fee credited twice, one voided, a commitment credited, drawn down and a draw-down voided."""
    q = another_contract(contract, f"{name}-q", seats=10, cadence="quarterly")
    invoice = close(q, dt.date(2026, 1, 1), dt.date(2026, 4, 1), as_of=at(2026, 1, 5))
    fee = fee_of(invoice)
    for amount, day in ((D("90.00"), 10), (D("50.00"), 15)):
        credit_note_create(invoice=invoice, reason="outage", lines=[(fee, amount)], as_of=at(2026, 2, day), actor=None)
    v = another_contract(contract, f"{name}-v", seats=3)
    invoice_void(
        invoice=close(v, dt.date(2026, 1, 1), dt.date(2026, 2, 1), as_of=at(2026, 2, 1)),
        reason="duplicate",
        as_of=at(2026, 2, 3),
        actor=None,
    )
    g = another_contract(contract, name)
    commitment_granted(g, 500)
    january = close(g, dt.date(2026, 1, 1), dt.date(2026, 2, 1), as_of=at(2026, 1, 31))
    purchase = january.lines.get(kind="commit_purchase")
    credit_note_create(invoice=january, reason="smaller", lines=[(purchase, D(50))], as_of=at(2026, 2, 3), actor=None)
    spend(name, 11_000, on=at(2026, 2, 10), prefix="feb")
    february = close(g, dt.date(2026, 2, 1), dt.date(2026, 3, 1), as_of=at(2026, 3, 1))
    invoice_void(invoice=february, reason="sent twice", as_of=at(2026, 3, 5), actor=None)


def _queries_for_the_report() -> int:
    with CaptureQueriesContext(connection) as queries:
        reports.revenue_report(first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 1))
    return len(queries)


def test_the_report_takes_the_same_few_queries_however_many_invoices(contract, django_assert_max_num_queries):
    _one_customer_of_everything(contract, "c0")
    few = _queries_for_the_report()
    for n in range(1, 6):
        _one_customer_of_everything(contract, f"c{n}")
    with django_assert_max_num_queries(12):
        many = reports.revenue_report(first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 1))
    assert _queries_for_the_report() == few
    # and the six customers' books are six times the one's: two quarters of 400 (the second billed ahead), January's
    # 3 seats and February's billed ahead (120 + 120), the commitment (500); February's usage and draw-down net 0.
    assert f"{many[0].totals.billed:.2f}" == f"{6 * (800 + 240 + 500):.2f}"


class RowsRead:
    """Counts the rows the database hands back to Python (what reading every line into Python costs)."""

    def __init__(self):
        self.rows = 0

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.rows += max(context["cursor"].rowcount, 0)
        return result


def _rows_read_by_the_report() -> int:
    counter = RowsRead()
    with connection.execute_wrapper(counter):
        reports.revenue_report(first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 1))
    return counter.rows


def _ordinary_customer(contract, name: str, *, void: bool) -> None:
    """Three months of a seat and usage, one of them voided: what nearly every invoice looks like."""
    c = another_contract(contract, name, seats=2)
    for month in (1, 2, 3):
        spend(name, 2_000 * month, on=at(2026, month, 10), prefix=f"m{month}")
        invoice = close(c, dt.date(2026, month, 1), dt.date(2026, month + 1, 1), as_of=at(2026, month + 1, 1))
        if void and month == 2:
            invoice_void(invoice=invoice, reason="duplicate", as_of=at(2026, 3, 3), actor=None)


def test_ordinary_invoices_are_summed_in_the_database_not_read_line_by_line(contract):
    _ordinary_customer(contract, "o0", void=True)
    one = _rows_read_by_the_report()
    for n in range(1, 6):
        _ordinary_customer(contract, f"o{n}", void=n % 2 == 0)
    assert _rows_read_by_the_report() == one  # rows per month and product, not per line
    [usd] = reports.revenue_report(first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 1))
    # Six customers, each billing 1,000, 3,000 and 5,000 credits over the 1,000 included at 0.01 (10 + 30 + 50)
    # and 2 seats at 40: January's and February's on January's invoice, then March's and April's ahead (320.00),
    # 410.00 in all. Three of them voided February (March's seats 80.00 and usage 30.00), so their March invoice
    # bills March's seats again (80.00): 490.00. Billed 3 x 410 + 3 x 490; reversed 3 x 110.
    assert (f"{usd.totals.billed:.2f}", f"{usd.totals.reversed:.2f}") == ("2700.00", "-330.00")
