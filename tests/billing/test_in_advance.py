"""Fees billed in advance: the first period's on an opening invoice when the contract starts, each later period's
on the invoice closing the period before it; changes inside a period settled against what was billed for it;
fees in arrears and one-time charges; through the period close as beat and test clocks run it."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.pdf import render_invoice_pdf
from billing.revenue.models import RevenueEntry
from billing.services import clocks as billing_clocks
from billing.services.invoices import invoice_void
from billing.services.opening import invoice_opening_issue
from billing.services.runs import invoice_run
from catalog.services import metrics, products, rate_cards
from contracts.models import Customer
from contracts.services import clocks as clock_services
from contracts.services import contracts as svc
from tests.billing.test_pdf import pdf_text
from usage import rollups
from usage.services import usage_events_ingest

pytestmark = pytest.mark.django_db

OCT_1 = dt.date(2026, 10, 1)
OPENING_RUN = dt.datetime(2026, 10, 1, 1, 0, tzinfo=dt.UTC)
OCT_CLOSE = dt.datetime(2026, 11, 4, 12, 0, tzinfo=dt.UTC)  # past the 72 h grace: finalized
NOV_CLOSE = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def catalog(db):
    """Seats (40 a month, in advance), support (100 a month, in arrears), setup (250 once), credits (0.01)."""
    metric = metrics.metric_create(
        code="credits", name="Credits", event_type="credits.used", aggregation="sum", property="credits", actor=None
    )
    rollups.rollups_build(metric=metric, as_of=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    made = {
        "seat": products.product_create(code="seat", name="Seat", kind="subscription", actor=None),
        "support": products.product_create(
            code="support", name="Support", kind="recurring_fee", billing_timing="in_arrears", actor=None
        ),
        "setup": products.product_create(code="setup", name="Setup", kind="one_time", actor=None),
        "credits": products.product_create(code="credits", name="AI credits", kind="usage", metric=metric, actor=None),
    }
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    for code, price in (("seat", "40"), ("support", "100"), ("setup", "250"), ("credits", "0.01")):
        rate_cards.price_set(
            version=version, product=made[code], values={"model": "per_unit", "unit_price": D(price)}, actor=None
        )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    made["card"] = card
    return made


def signed(catalog, subscriptions, *, name="beta", start=OCT_1, terms=None, tax_percent=None, **kwargs):
    customer = Customer.objects.create(
        external_id=name, name=name.title(), currency="USD", tax_rate_percent=tax_percent
    )
    contract = svc.contract_create(
        customer=customer,
        rate_card=catalog["card"],
        start_date=start,
        actor=None,
        terms=terms or svc.Terms(),
        subscriptions=[(catalog[code], D(quantity)) for code, quantity in subscriptions],
        **kwargs,
    )
    return svc.contract_activate(contract=contract, actor=None)


def close(contract, *moments):
    for moment in moments:
        run = invoice_run(as_of=moment, contracts=[contract])
        assert run.failures == []


def invoice(contract, kind=InvoiceKind.PERIOD, start=OCT_1):
    return Invoice.objects.get(contract=contract, kind=kind, period_start=start)


def lines(invoice):
    return [(line.kind, line.description, line.amount) for line in invoice.lines.order_by("position")]


def seats(contract, quantity, on):
    seat = contract.subscription_changes.first().product
    svc.subscription_change(contract=contract, product=seat, quantity=D(quantity), effective_date=on, actor=None)


def test_the_first_period_is_billed_on_an_opening_invoice_once_the_contract_has_started(catalog):
    contract = signed(catalog, [("seat", 10)])
    close(contract, dt.datetime(2026, 9, 30, 23, 0, tzinfo=dt.UTC))
    assert not Invoice.objects.filter(contract=contract).exists()  # activating bills nothing before the start
    close(contract, OPENING_RUN, OPENING_RUN + dt.timedelta(hours=1))
    opening = invoice(contract, InvoiceKind.OPENING)
    assert lines(opening) == [("subscription", "Seat: 10 x 2026-10-01 to 2026-11-01", D("400.00"))]
    assert (opening.status, opening.number, opening.total) == (InvoiceStatus.FINALIZED, "INV-2026-000001", D("400"))
    line = opening.lines.get()
    assert (line.service_start, line.service_end) == (OCT_1, dt.date(2026, 11, 1))
    assert Invoice.objects.filter(contract=contract).count() == 1  # the second run issued nothing more
    text = pdf_text(render_invoice_pdf(opening))
    assert "First period, billed in advance" in text and "Please pay $400.00" in text


def test_each_period_invoice_bills_its_usage_and_the_next_periods_fees(catalog):
    contract = signed(catalog, [("seat", 10)])
    usage_events_ingest(
        events=[
            {"transaction_id": "u1", "customer": "beta", "event_type": "credits.used",
             "timestamp": "2026-10-20T10:00:00+00:00", "properties": {"credits": 3000}},
        ],
        received_at=dt.datetime(2026, 10, 20, 10, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    close(contract, OPENING_RUN, OCT_CLOSE)
    october = invoice(contract)
    assert [(kind, amount) for kind, _, amount in lines(october)] == [("usage", D("30.00")), ("subscription", D("400"))]
    ahead = october.lines.get(kind="subscription")
    assert ahead.description == "Seat: 10 x 2026-11-01 to 2026-12-01"
    assert (ahead.service_start, ahead.service_end) == (dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    # Revenue follows the service: October's seats (opening invoice) in October, November's in November.
    months = {(e.line.invoice.kind, e.month): e.amount for e in RevenueEntry.objects.filter(line__product__code="seat")}
    assert months == {("opening", OCT_1): D("400.00"), ("period", dt.date(2026, 11, 1)): D("400.00")}
    close(contract, NOV_CLOSE)
    november = invoice(contract, start=dt.date(2026, 11, 1))
    assert lines(november) == [("subscription", "Seat: 10 x 2026-12-01 to 2027-01-01", D("400.00"))]


def test_more_seats_inside_a_period_bill_the_prorated_difference_on_its_invoice(catalog):
    contract = signed(catalog, [("seat", 10)])
    close(contract, OPENING_RUN)
    seats(contract, 15, dt.date(2026, 10, 16))
    close(contract, OCT_CLOSE)
    opening = invoice(contract, InvoiceKind.OPENING)
    # 400 x 15/31 = 193.548; 600 x 16/31 = 309.677; less the 400.00 billed in advance: 103.23 more.
    assert lines(invoice(contract)) == [
        ("subscription", "Seat: 10 x 2026-10-01 to 2026-10-16 (prorated 15/31 days)", D("193.55")),
        ("subscription", "Seat: 15 x 2026-10-16 to 2026-11-01 (prorated 16/31 days)", D("309.68")),
        ("billed_in_advance", f"Seat: 2026-10-01 to 2026-11-01 billed in advance on invoice {opening.number}",
         D("-400.00")),
        ("subscription", "Seat: 15 x 2026-11-01 to 2026-12-01", D("600.00")),
    ]  # fmt: skip
    assert invoice(contract).total == D("703.23")
    # The settlement counts against the pricing model of the fees it settles (month-end totals by model).
    assert invoice(contract).lines.get(kind="billed_in_advance").pricing_model == "per_unit"
    close(contract, NOV_CLOSE)  # nothing changed in November: no line for it, only December in advance
    assert [amount for _, _, amount in lines(invoice(contract, start=dt.date(2026, 11, 1)))] == [D("600.00")]


def test_fewer_seats_are_credited_on_the_periods_invoice(catalog):
    contract = signed(catalog, [("seat", 10)])
    close(contract, OPENING_RUN)
    seats(contract, 5, dt.date(2026, 10, 16))
    close(contract, OCT_CLOSE)
    # 193.55 + 200 x 16/31 (103.23) - 400.00 = -103.22, then November's 5 seats: 200.00.
    assert [amount for _, _, amount in lines(invoice(contract))] == [D("193.55"), D("103.23"), D("-400"), D("200")]
    assert invoice(contract).total == D("96.78")


def test_an_upgrade_billed_at_once_is_not_billed_again(catalog):
    contract = signed(catalog, [("seat", 10)], proration="immediately")
    close(contract, OPENING_RUN)
    seat = catalog["seat"]
    svc.subscription_change(
        contract=contract, product=seat, quantity=D(15), effective_date=dt.date(2026, 10, 16), actor=None,
        as_of=dt.datetime(2026, 10, 16, 9, tzinfo=dt.UTC),
    )  # fmt: skip
    extra = invoice(contract, InvoiceKind.OFF_CYCLE)
    assert extra.total == D("103.23")  # 193.55 + 309.68 - 400.00 billed on the opening invoice
    close(contract, OCT_CLOSE)
    # October as it turned out (503.23) was billed: no line for it, only November's 15 seats in advance.
    assert [(k, a) for k, _, a in lines(invoice(contract))] == [("subscription", D("600.00"))]


def test_a_voided_off_cycle_invoice_is_billed_on_the_periods_invoice(catalog):
    contract = signed(catalog, [("seat", 10)], proration="immediately")
    close(contract, OPENING_RUN)
    svc.subscription_change(
        contract=contract, product=catalog["seat"], quantity=D(15), effective_date=dt.date(2026, 10, 16), actor=None,
        as_of=dt.datetime(2026, 10, 16, 9, tzinfo=dt.UTC),
    )  # fmt: skip
    extra = invoice(contract, InvoiceKind.OFF_CYCLE)
    invoice_void(invoice=extra, reason="billed by mistake", as_of=dt.datetime(2026, 10, 20, tzinfo=dt.UTC), actor=None)
    close(contract, OCT_CLOSE)
    assert invoice(contract).total == D("703.23")  # the difference is back: 103.23, and November's 600.00


def test_a_period_nothing_was_billed_for_is_billed_whole_then_ahead_again(catalog):
    contract = signed(catalog, [("seat", 10)])
    close(contract, OPENING_RUN, OCT_CLOSE)
    invoice_void(invoice=invoice(contract), reason="wrong address", as_of=OCT_CLOSE, actor=None)
    close(contract, NOV_CLOSE)
    # The voided October invoice billed November in advance: November's invoice bills it, and December ahead.
    assert [(k, a) for k, _, a in lines(invoice(contract, start=dt.date(2026, 11, 1)))] == [
        ("subscription", D("400.00")),
        ("subscription", D("400.00")),
    ]


def test_fees_in_arrears_are_billed_for_the_period_that_ended_and_not_ahead(catalog):
    contract = signed(catalog, [("seat", 10), ("support", 1)])
    close(contract, OPENING_RUN, OCT_CLOSE)
    assert [line.description for line in invoice(contract, InvoiceKind.OPENING).lines.all()] == [
        "Seat: 10 x 2026-10-01 to 2026-11-01"
    ]
    assert [(k, d) for k, d, _ in lines(invoice(contract))] == [
        ("subscription", "Support: 1 x 2026-10-01 to 2026-11-01"),
        ("subscription", "Seat: 10 x 2026-11-01 to 2026-12-01"),
    ]


def test_a_one_time_charge_is_billed_once_in_advance(catalog):
    contract = signed(catalog, [("seat", 10), ("setup", 1)])
    # Known before October closes: a second setup on 10 November is billed ahead with November's seats.
    svc.subscription_change(
        contract=contract, product=catalog["setup"], quantity=D(2), effective_date=dt.date(2026, 11, 10), actor=None
    )
    close(contract, OPENING_RUN, OCT_CLOSE, NOV_CLOSE)
    assert [(k, d, a) for k, d, a in lines(invoice(contract, InvoiceKind.OPENING))] == [
        ("subscription", "Seat: 10 x 2026-10-01 to 2026-11-01", D("400.00")),
        ("one_time", "Setup: 1 on 2026-10-01", D("250.00")),
    ]
    assert [(k, a) for k, _, a in lines(invoice(contract))] == [("subscription", D("400.00")), ("one_time", D("500"))]
    setup = invoice(contract).lines.get(kind="one_time")
    assert (setup.service_start, setup.service_end) == (dt.date(2026, 11, 10), dt.date(2026, 11, 11))
    assert [(k, a) for k, _, a in lines(invoice(contract, start=dt.date(2026, 11, 1)))] == [("subscription", D("400"))]


def test_no_fees_are_billed_ahead_past_the_contracts_end(catalog):
    contract = signed(catalog, [("seat", 10)], end_date=dt.date(2026, 11, 16))
    close(contract, OPENING_RUN, OCT_CLOSE, NOV_CLOSE)
    # 400 x 15/30 for 1-16 November, then nothing: November is the contract's last period.
    assert [a for _, _, a in lines(invoice(contract))] == [D("200.00")]
    assert not invoice(contract, start=dt.date(2026, 11, 1)).lines.exists()


def test_a_trial_bills_nothing_ahead_until_it_ends(catalog):
    trial = svc.Terms(trial=(dt.date(2026, 11, 16), False))
    contract = signed(catalog, [("seat", 10)], terms=trial)
    close(contract, OPENING_RUN, OCT_CLOSE)
    assert not Invoice.objects.filter(contract=contract, kind=InvoiceKind.OPENING).exists()  # nothing to bill
    assert [(d, a) for _, d, a in lines(invoice(contract))] == [
        ("Seat: 10 x 2026-11-16 to 2026-12-01 (prorated 15/30 days)", D("200.00"))
    ]


def test_a_discount_is_shown_on_fees_billed_ahead(catalog):
    discount = svc.Terms(overrides=[svc.OverrideSpec(kind="discount", discount_percent=D(10))])
    contract = signed(catalog, [("seat", 10)], terms=discount)
    close(contract, OPENING_RUN, OCT_CLOSE)
    assert [(k, a) for k, _, a in lines(invoice(contract, InvoiceKind.OPENING))] == [
        ("subscription", D("400.00")),
        ("discount", D("-40.00")),
    ]
    assert [(k, a) for k, _, a in lines(invoice(contract))] == [("subscription", D("400.00")), ("discount", D("-40"))]


def test_a_usage_only_contract_gets_no_opening_invoice(catalog):
    contract = signed(catalog, [])
    close(contract, OPENING_RUN)
    assert not Invoice.objects.filter(contract=contract).exists()


def test_a_test_clock_passing_the_start_issues_the_opening_invoice(catalog):
    test_clock = clock_services.test_clock_create(
        name="advance", frozen_time=dt.datetime(2026, 9, 20, tzinfo=dt.UTC), actor=None
    )
    contract = signed(catalog, [("seat", 10)])
    billing_clocks.test_clock_customer_attach(test_clock=test_clock, customer=contract.customer, actor=None)
    billing_clocks.test_clock_advance(
        test_clock=test_clock, frozen_time=dt.datetime(2026, 10, 2, tzinfo=dt.UTC), actor=None
    )
    opening = invoice(contract, InvoiceKind.OPENING)
    assert opening.finalized_at == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)  # at the start, not at the clock's end
    assert opening.number == "TEST-INV-2026-000001"


def test_ending_a_contract_inside_a_period_billed_in_advance_gives_the_rest_back(catalog):
    contract = signed(catalog, [("seat", 10)])
    close(contract, OPENING_RUN, OCT_CLOSE)  # November billed in advance: 400.00
    svc.contract_end(contract=contract, end_date=dt.date(2026, 11, 16), actor=None, reason="customer left")
    close(contract, NOV_CLOSE)
    november = invoice(contract, start=dt.date(2026, 11, 1))
    october = invoice(contract)
    assert lines(november) == [
        ("subscription", "Seat: 10 x 2026-11-01 to 2026-11-16 (prorated 15/30 days)", D("200.00")),
        ("billed_in_advance", f"Seat: 2026-11-01 to 2026-12-01 billed in advance on invoice {october.number}",
         D("-400.00")),
    ]  # fmt: skip
    # A credit due to the customer: finalized and numbered like any invoice, and its PDF says so.
    assert (november.status, november.total, november.number) == ("finalized", D("-200.00"), "INV-2026-000003")
    text = pdf_text(render_invoice_pdf(november))
    assert "Credit due to you: $200.00" in text and "Please pay" not in text
    assert not Invoice.objects.filter(contract=contract, period_start=dt.date(2026, 12, 1)).exists()


def test_ending_a_contract_at_a_period_billed_in_advance_closes_that_period_to_give_it_back(catalog):
    contract = signed(catalog, [("seat", 10)], terms=svc.Terms(minimum_spend=D(1000)))
    close(contract, OPENING_RUN, OCT_CLOSE)
    svc.contract_end(contract=contract, end_date=dt.date(2026, 11, 1), actor=None, reason="customer left")
    accepted = usage_events_ingest(
        events=[
            {"transaction_id": "after", "customer": "beta", "event_type": "credits.used",
             "timestamp": "2026-11-20T10:00:00+00:00", "properties": {"credits": 3000}},
        ],
        received_at=dt.datetime(2026, 11, 20, 10, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    assert accepted.count("accepted") == 1  # usage of the customer, after this contract's end
    close(contract, NOV_CLOSE, NOV_CLOSE + dt.timedelta(days=40))
    november = invoice(contract, start=dt.date(2026, 11, 1))
    # Nothing of November is owed (no usage after the end, not even the minimum spend): the 400.00 comes back.
    assert [(k, a) for k, _, a in lines(november)] == [("billed_in_advance", D("-400.00"))]
    assert Invoice.objects.filter(contract=contract, kind=InvoiceKind.PERIOD).count() == 2  # and no more after it


def test_fees_given_back_give_their_tax_back(catalog):
    contract = signed(catalog, [("seat", 10)], tax_percent=D(20))
    close(contract, OPENING_RUN, OCT_CLOSE)
    assert invoice(contract).total == D("480.00")  # November ahead: 400.00 and 20% tax
    svc.contract_end(contract=contract, end_date=dt.date(2026, 11, 16), actor=None, reason="customer left")
    close(contract, NOV_CLOSE)
    november = invoice(contract, start=dt.date(2026, 11, 1))
    # 200.00 owed less 400.00 billed: -200.00, and the 20% charged on it back: -40.00.
    assert [(k, a) for k, _, a in lines(november)][-1] == ("tax", D("-40.00"))
    assert (november.subtotal, november.tax_total, november.total) == (D("-200"), D("-40"), D("-240"))


def test_a_test_clock_made_at_the_start_dates_the_opening_invoice_at_the_start(catalog):
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    test_clock = clock_services.test_clock_create(name="at the start", frozen_time=start, actor=None)
    contract = signed(catalog, [("seat", 10)])
    billing_clocks.test_clock_customer_attach(test_clock=test_clock, customer=contract.customer, actor=None)
    billing_clocks.test_clock_advance(
        test_clock=test_clock, frozen_time=dt.datetime(2026, 10, 20, tzinfo=dt.UTC), actor=None
    )
    assert invoice(contract, InvoiceKind.OPENING).finalized_at == start  # not at the advance's end (20 October)


def test_finance_finds_opening_invoices_by_kind_in_the_api_and_the_admin(catalog, staff_client):
    contract = signed(catalog, [("seat", 10)])
    close(contract, OPENING_RUN, OCT_CLOSE)
    listed = staff_client.get("/api/v1/invoices", {"kind": "opening"}).json()["results"]
    assert [(i["kind"], i["number"], i["total"]) for i in listed] == [("opening", "INV-2026-000001", "400.00")]
    periods = staff_client.get("/api/v1/invoices", {"kind": "period"}).json()["results"]
    assert [i["number"] for i in periods] == ["INV-2026-000002"]
    refused = staff_client.get("/api/v1/invoices", {"kind": "yearly"})
    assert refused.status_code == 400 and "kind" in str(refused.json())
    page = staff_client.get("/admin/billing/invoice/", {"kind__exact": "opening"}).content.decode()
    assert "INV-2026-000001" in page and "INV-2026-000002" not in page


def test_one_opening_invoice_per_contract_whichever_way_it_is_issued(catalog):
    contract = signed(catalog, [("seat", 10)])
    assert invoice_opening_issue(contract=contract, as_of=OPENING_RUN - dt.timedelta(days=1), actor=None) is None
    first = invoice_opening_issue(contract=contract, as_of=OPENING_RUN, actor=None)  # alone, as a fallback does
    assert (first.kind, first.total, first.number) == ("opening", D("400.00"), "INV-2026-000001")
    assert invoice_opening_issue(contract=contract, as_of=OPENING_RUN, actor=None) is None
    close(contract, OPENING_RUN)  # the run finds it issued
    assert Invoice.objects.filter(contract=contract).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database refuses a second one
        Invoice.objects.create(
            contract=contract, customer=contract.customer, kind="opening", currency="USD",
            period_start=dt.date(2026, 11, 1), period_end=dt.date(2026, 12, 1),
        )  # fmt: skip
