"""The revenue report and the month-end close summary on four months of books (tests/billing/books.py), figure
by figure and CSV cell by cell; over the API (scopes, CSV by ?format= and by Accept, refusals) and in the admin."""

import csv
import datetime as dt
import io

import pytest

from billing.revenue import reports
from revops import clock
from tests.billing.books import make_books

pytestmark = pytest.mark.django_db

Z = "0.00"
# currency, month, product, billed, reversed, recognized, deferred at month end
REVENUE_ROWS = [
    # delta's January invoice (finalized 1 Feb) bills January (30.00) and February ahead (30.00).
    ["EUR", "2026-01", "seat", Z, Z, "30.00", "-30.00"],  # January's seat, invoiced on 1 Feb: earned first
    ["EUR", "2026-01", "TOTAL", Z, Z, "30.00", "-30.00"],
    ["EUR", "2026-02", "seat", "60.00", Z, "30.00", Z],
    ["EUR", "2026-02", "TOTAL", "60.00", Z, "30.00", Z],
    ["EUR", "2026-03", "seat", Z, "-60.00", "-60.00", Z],  # voided on 20 Mar: both months taken back
    ["EUR", "2026-03", "TOTAL", Z, "-60.00", "-60.00", Z],
    ["EUR", "2026-04", "seat", Z, Z, Z, Z],
    ["EUR", "2026-04", "TOTAL", Z, Z, Z, Z],
    ["EUR", "TOTAL", "seat", "60.00", "-60.00", Z, Z],
    ["EUR", "TOTAL", "TOTAL", "60.00", "-60.00", Z, Z],
    # January: the commitment is billed (1,000.00) and deferred. Recognized: beta's seat 40 x 17/31 = 21.94 and the
    # late-usage correction's 20 x 17/31 = 10.97 (it is recognized in the period used, though billed in March).
    ["USD", "2026-01", "(commit)", Z, Z, Z, Z],
    ["USD", "2026-01", "(commit_purchase)", "1000.00", Z, Z, "1000.00"],
    ["USD", "2026-01", "credits", Z, Z, "10.97", "-10.97"],
    ["USD", "2026-01", "seat", Z, Z, "21.94", "-21.94"],
    ["USD", "2026-01", "TOTAL", "1000.00", Z, "32.91", "967.09"],
    # February: gamma's 100.00 of usage, paid from the commitment, counts once (usage 100 - applied 100 + release
    # 100); the correction's other 9.03. Beta's first invoice (15 Feb) bills 15 Jan-15 Feb and 15 Feb-15 Mar ahead
    # (80.00); recognized 18.06 (1-14 Feb) + 20.00 (15-28 Feb, 14/28 of 40); deferred: 15 Feb-15 Mar's March 20.00.
    ["USD", "2026-02", "(commit)", Z, Z, "-100.00", "100.00"],
    ["USD", "2026-02", "(commit_purchase)", Z, Z, "100.00", "900.00"],
    ["USD", "2026-02", "credits", Z, Z, "109.03", "-120.00"],
    ["USD", "2026-02", "seat", "80.00", Z, "38.06", "20.00"],
    ["USD", "2026-02", "TOTAL", "80.00", Z, "147.09", "900.00"],
    # March: February's invoice (usage 100, applied -100) and beta's second (15 Mar-15 Apr ahead 40, correction 20)
    # are billed; 300 of usage drawn from the commitment. Seat: 15 Feb-15 Mar's March 20.00, and 15 Mar-15 Apr's
    # 40 x 17/31 = 21.94 less the 10.00 credit note's share: April's 18.06 loses 18.06 x 10/40 = 4.515 -> 4.52,
    # March the other 5.48: 20.00 + 21.94 - 5.48 = 36.46; April's 13.54 stays deferred.
    ["USD", "2026-03", "(commit)", "-100.00", Z, "-300.00", "300.00"],
    ["USD", "2026-03", "(commit_purchase)", Z, Z, "300.00", "600.00"],
    ["USD", "2026-03", "credits", "120.00", Z, "300.00", "-300.00"],
    ["USD", "2026-03", "seat", "40.00", "-10.00", "36.46", "13.54"],
    ["USD", "2026-03", "TOTAL", "60.00", "-10.00", "336.46", "613.54"],
    # April: March's invoice is billed (300 - 300); the seat's 13.54 recognized; the commitment's 600 stays
    # deferred until it expires in July.
    ["USD", "2026-04", "(commit)", "-300.00", Z, Z, Z],
    ["USD", "2026-04", "(commit_purchase)", Z, Z, Z, "600.00"],
    ["USD", "2026-04", "credits", "300.00", Z, Z, Z],
    ["USD", "2026-04", "seat", Z, Z, "13.54", Z],
    ["USD", "2026-04", "TOTAL", Z, Z, "13.54", "600.00"],
    ["USD", "TOTAL", "(commit)", "-400.00", Z, "-400.00", Z],
    ["USD", "TOTAL", "(commit_purchase)", "1000.00", Z, "400.00", "600.00"],
    ["USD", "TOTAL", "credits", "420.00", Z, "420.00", Z],
    ["USD", "TOTAL", "seat", "120.00", "-10.00", "110.00", Z],
    ["USD", "TOTAL", "TOTAL", "1140.00", "-10.00", "530.00", "600.00"],
]


@pytest.fixture
def books(contract):
    return make_books(contract)


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def month_end_rows(books) -> list[list[str]]:
    beta_2, delta_jan = books["beta_2"].number, books["delta_jan"].number
    return [
        ["section", "currency", "key", "count", "amount", "detail"],
        # February's, period over, not finalized yet: February (January's invoice billed it ahead, but was voided)
        # and March ahead, 30.00 each.
        ["invoices", "EUR", "draft", "1", "60.00", ""],
        # gamma's February (0.00) and beta's second (60.00: 15 Mar-15 Apr ahead, 40.00, and the 20.00 correction)
        ["invoices", "USD", "finalized", "2", "60.00", ""],
        ["product", "USD", "(commit)", "", "-100.00", ""],
        ["product", "USD", "credits", "", "120.00", ""],  # usage 100 + 0 and the 20.00 correction
        ["product", "USD", "seat", "", "40.00", ""],
        ["pricing_model", "USD", "(none)", "", "-100.00", ""],  # commitment applied
        ["pricing_model", "USD", "per_unit", "", "160.00", ""],  # seat 40, usage 100, the 20.00 correction
        [
            "correction",
            "USD",
            beta_2,
            "",
            "20.00",
            f"beta credits 2026-01-15 to 2026-02-15: Late usage: AI credits, 2026-01-15 to 2026-02-15 "
            f"(invoice {books['beta_1'].number})",
        ],
        ["credit_note", "USD", "CN-2026-000001", "", "10.00", f"beta on {beta_2}: outage"],
        ["void", "EUR", delta_jan, "", "60.00", "delta: billed twice"],  # January and February ahead
    ]


def test_the_revenue_report_figure_by_figure(books):
    found = reports.revenue_report(first=dt.date(2026, 1, 1), last=dt.date(2026, 4, 1))
    assert [r.currency for r in found] == ["EUR", "USD"]
    assert rows(reports.revenue_report_csv(found)) == [reports.REVENUE_CSV_HEADER, *REVENUE_ROWS]


def test_deferred_before_the_range_carries_into_it_and_the_expiry_is_recognized(books):
    found = reports.revenue_report(first=dt.date(2026, 3, 1), last=dt.date(2026, 7, 1))
    usd = found[1]
    assert usd.currency == "USD"
    # March ends with beta's 13.54 of April billed ahead on top of the commitment's 600.00.
    assert [f"{usd.months[m].deferred:.2f}" for m in sorted(usd.months)] == ["613.54"] + ["600.00"] * 3 + ["0.00"]
    assert str(usd.months[dt.date(2026, 7, 1)].recognized) == "600.000"
    assert str(usd.products[dt.date(2026, 7, 1)]["(commit_purchase)"].recognized) == "600.000"


def test_the_month_end_summary_and_its_csv(books):
    summary = reports.month_end_summary(month=dt.date(2026, 3, 1))
    assert rows(reports.month_end_csv(summary)) == month_end_rows(books)


def test_the_revenue_api_as_json_and_csv(books, read_client):
    response = read_client.get("/api/v1/reports/revenue?from=2026-01&to=2026-04")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from_month"], body["to_month"]) == ("2026-01", "2026-04")
    usd = body["currencies"][1]
    assert usd["currency"] == "USD"
    assert usd["totals"] == {"billed": "1140.00", "reversed": "-10.00", "recognized": "530.00", "deferred": "600.00"}
    february = usd["months"][1]
    assert (february["month"], february["recognized"], february["deferred"]) == ("2026-02", "147.09", "900.00")
    assert february["products"][1] == {
        "product": "(commit_purchase)",
        "billed": Z,
        "reversed": Z,
        "recognized": "100.00",
        "deferred": "900.00",
    }
    for query, headers in (("&format=csv", {}), ("", {"HTTP_ACCEPT": "text/csv"})):
        response = read_client.get(f"/api/v1/reports/revenue?from=2026-01&to=2026-04{query}", **headers)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert 'filename="revenue-2026-01-2026-04.csv"' in response["Content-Disposition"]
        assert rows(response.content.decode()) == [reports.REVENUE_CSV_HEADER, *REVENUE_ROWS]


def test_the_month_end_api_as_json_and_csv(books, read_client):
    response = read_client.get("/api/v1/reports/month-end?month=2026-03")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["month"] == "2026-03"
    assert body["invoices"] == [
        {"status": "draft", "currency": "EUR", "count": 1, "total": "60.00"},
        {"status": "finalized", "currency": "USD", "count": 2, "total": "60.00"},
    ]
    assert body["pricing_models"] == [
        {"currency": "USD", "pricing_model": "(none)", "amount": "-100.00"},
        {"currency": "USD", "pricing_model": "per_unit", "amount": "160.00"},
    ]
    assert [c["amount"] for c in body["corrections"]] == ["20.00"]
    assert [(n["number"], n["total"]) for n in body["credit_notes"]] == [("CN-2026-000001", "10.00")]
    assert [(v["invoice"], v["total"], v["reason"]) for v in body["voids"]] == [
        (books["delta_jan"].number, "60.00", "billed twice")
    ]
    response = read_client.get("/api/v1/reports/month-end?month=2026-03&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert rows(response.content.decode()) == month_end_rows(books)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("revenue?from=2026-13&to=2026-04", "from"),
        ("revenue?from=2026-1&to=2026-04", "from"),
        ("revenue?to=2026-04", "from"),
        ("revenue?from=2026-01&to=april", "to"),
        ("revenue?from=2026-04&to=2026-01", "to"),
        ("revenue?from=2000-01&to=2026-01", "to"),
        ("revenue?from=2026-01&to=2026-04&format=xml", "format"),
        ("month-end?month=2026-00", "month"),
        ("month-end?month=", "month"),
        ("month-end?month=2026-03&format=pdf", "format"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(read_client, query, field):
    response = read_client.get(f"/api/v1/reports/{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["error"]["fields"]) == [field]


def test_a_bad_month_with_csv_asked_is_still_a_json_error(read_client):
    response = read_client.get("/api/v1/reports/month-end?month=March&format=csv")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert list(response.json()["error"]["fields"]) == ["month"]


def test_reports_need_the_read_scope(anon_client, ingest_client, write_client):
    assert anon_client.get("/api/v1/reports/revenue?from=2026-01&to=2026-02").status_code in (401, 403)
    assert ingest_client.get("/api/v1/reports/month-end?month=2026-01").status_code == 403
    assert write_client.get("/api/v1/reports/month-end?month=2026-01").status_code == 200


def test_the_admin_pages_show_the_reports_and_download_csv(books, admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert "/admin/billing/revenuereport/" in index and "/admin/billing/monthendclose/" in index
    with clock.frozen_at(dt.datetime(2026, 5, 2, tzinfo=dt.UTC)):
        page = admin_client.get("/admin/billing/revenuereport/?from=2026-01&to=2026-04")
        default = admin_client.get("/admin/billing/monthendclose/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "967.09" in text and "1140.00" in text and "Download CSV" in text
    download = admin_client.get("/admin/billing/revenuereport/?from=2026-01&to=2026-04&format=csv")
    assert rows(download.content.decode()) == [reports.REVENUE_CSV_HEADER, *REVENUE_ROWS]
    assert default.status_code == 200 and 'value="2026-04"' in default.content.decode()  # last month by default
    close = admin_client.get("/admin/billing/monthendclose/?month=2026-03&format=csv")
    assert rows(close.content.decode()) == month_end_rows(books)
    entries = admin_client.get("/admin/billing/revenueentry/?line__kind=subscription")
    assert entries.status_code == 200 and "21.94" in entries.content.decode()
    bad = admin_client.get("/admin/billing/revenuereport/?from=2026-04&to=2026-01")
    assert bad.status_code == 200 and "must not be before" in bad.content.decode()
