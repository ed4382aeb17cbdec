"""Tax rates per region and per customer, and the tax lines of invoices (one per rate, after discounts).

The contract (tests/billing/conftest.py): 10 seats at 40.00 and AI credits at 0.01 with 1,000 included.
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from billing.models import Invoice, LineKind
from billing.services.invoices import invoice_compute, invoice_finalize
from billing.services.taxes import tax_rate_create, tax_rate_update
from billing.taxes import TaxRate
from catalog.models import Product
from contracts.models import Customer
from contracts.services import balances
from contracts.services import contracts as svc
from contracts.services.customers import customer_update
from revops.errors import Conflict, ValidationError
from revops.periods import Period
from tests.billing.support import CLOSE, NOVEMBER, T0, use
from usage.models import UsageEvent

pytestmark = pytest.mark.django_db
DECEMBER = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))


def ca_rate(**changes):
    values = {
        "name": "CA sales tax",
        "rate_percent": D("7.25"),
        "region": "US-CA",
        "effective_from": dt.date(2026, 1, 1),
        "actor": None,
        **changes,
    }
    return tax_rate_create(**values)


def in_california(contract, **more):
    return customer_update(customer=contract.customer, actor=None, reason="moved", tax_region="US-CA", **more)


def taxes(invoice):
    return [(line.description, line.taxable_base, line.amount) for line in invoice.lines.filter(kind=LineKind.TAX)]


# --- rates: what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rate_percent": D("-1")}, "rate_percent"),
        ({"rate_percent": D("100.5")}, "rate_percent"),
        ({"rate_percent": D("7.12345")}, "rate_percent"),
        ({"region": "US-XX"}, "region"),
        ({"region": "us-ca"}, "region"),
        ({"region": "Atlantis"}, "region"),
        ({"name": "  "}, "name"),
        ({"effective_to": dt.date(2025, 12, 31)}, "effective_to"),
    ],
)
def test_bad_rates_are_refused_and_nothing_is_stored(changes, field):
    with pytest.raises(ValidationError) as refused:
        ca_rate(**changes)
    assert field in refused.value.fields
    assert not TaxRate.objects.exists()


def test_one_region_has_one_rate_on_any_day():
    first = ca_rate(effective_to=dt.date(2027, 1, 1))
    with pytest.raises(ValidationError) as refused:
        ca_rate(rate_percent=D("8"), effective_from=dt.date(2026, 12, 1))
    assert refused.value.code == "overlapping_tax_rate"
    with pytest.raises(ValidationError):
        ca_rate(effective_from=dt.date(2025, 6, 1), effective_to=dt.date(2026, 2, 1))
    assert TaxRate.objects.count() == 1
    ca_rate(rate_percent=D("8"), effective_from=dt.date(2027, 1, 1))  # right after the first: fine
    ca_rate(region="DE", name="VAT", rate_percent=D(19))  # another region: fine
    ca_rate(region="EU", name="EU OSS", rate_percent=D(20))
    assert TaxRate.objects.count() == 4
    with pytest.raises(ValidationError):  # moving its end past the next one's start would overlap
        tax_rate_update(tax_rate=first, actor=None, reason="extend", effective_to=None)
    assert TaxRate.objects.get(pk=first.pk).effective_to == dt.date(2027, 1, 1)


def test_a_rate_on_an_issued_invoice_can_only_be_ended(contract):
    rate = ca_rate()
    in_california(contract)
    invoice_finalize(invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None)
    with pytest.raises(Conflict) as refused:
        tax_rate_update(tax_rate=rate, actor=None, reason="typo", rate_percent=D("7.5"))
    assert refused.value.code == "tax_rate_in_use"
    ended = tax_rate_update(tax_rate=rate, actor=None, reason="new rate from 2027", effective_to=dt.date(2027, 1, 1))
    assert ended.rate_percent == D("7.25") and ended.effective_to == dt.date(2027, 1, 1)
    assert ended.history.first().history_change_reason == "new rate from 2027"


def test_customer_tax_fields_are_checked(contract):
    customer = contract.customer
    for changes, field in [
        ({"tax_region": "XX"}, "tax_region"),
        ({"tax_exempt": True}, "tax_exempt_reason"),
        ({"tax_rate_percent": D("-3")}, "tax_rate_percent"),
    ]:
        with pytest.raises(ValidationError) as refused:
            customer_update(customer=customer, actor=None, reason="x", **changes)
        assert field in refused.value.fields
    fresh = Customer.objects.get(pk=customer.pk)
    assert (fresh.tax_region, fresh.tax_exempt, fresh.tax_rate_percent) == ("", False, None)


# --- tax lines ------------------------------------------------------------------------------------------


def test_a_region_rate_taxes_the_invoice_after_the_charges(contract):
    ca_rate()
    in_california(contract)
    use(6, 1000)
    # November's 400.00 seats + 50.00 credits ((6,000 - 1,000) x 0.01) + December's 400.00 seats billed in
    # advance = 850.00; 7.25% = 61.625 -> 61.63
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert taxes(invoice) == [("CA sales tax (US-CA) 7.25%", D("850.00"), D("61.63"))]
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (D("850.00"), D("61.63"), D("911.63"))


def test_no_region_no_tax_and_exempt_customers_are_not_taxed(contract):
    ca_rate()
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert taxes(invoice) == [] and invoice.total == D("800.00")  # November's and December's seats: 400.00 each
    in_california(contract, tax_exempt=True, tax_exempt_reason="reseller certificate 123")
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert taxes(invoice) == [] and (invoice.tax_total, invoice.total) == (D("0.00"), D("800.00"))


def test_a_customer_specific_rate_replaces_the_region_rate(contract):
    ca_rate()
    in_california(contract, tax_rate_percent=D("5.5"))
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    # 5.5% of (400.00 November's seats + 400.00 December's billed in advance) = 44.00
    assert taxes(invoice) == [("Tax (customer rate) 5.5%", D("800.00"), D("44.00"))]
    assert invoice.total == D("844.00")


def test_tax_is_on_the_net_after_discounts_and_promotional_credits(contract):
    ca_rate()
    in_california(contract)
    seat = Product.objects.get(code="seat")
    svc.contract_amend(
        contract=contract,
        effective_from=dt.date(2026, 11, 1),
        actor=None,
        reason="discount",
        terms=svc.Terms(overrides=[svc.OverrideSpec("discount", product=seat, discount_percent=D(15))]),
    )
    balances.balance_grant(
        contract=contract,
        kind="credit",
        amount=D(25),
        starts_on=dt.date(2026, 11, 1),
        expires_on=dt.date(2027, 1, 1),
        as_of=T0,
        actor=None,
    )
    # November's and December's seats, each 400.00 - 60.00 discount: 680.00; the 25.00 credit is a price
    # reduction: base 655.00; 7.25% = 47.4875 -> 47.49; total 680.00 - 25.00 + 47.49 = 702.49
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    assert taxes(invoice) == [("CA sales tax (US-CA) 7.25%", D("655.00"), D("47.49"))]
    assert (invoice.subtotal, invoice.tax_total, invoice.total) == (D("680.00"), D("47.49"), D("702.49"))


def test_a_commitment_is_taxed_when_bought_and_the_usage_it_pays_is_not_taxed_again(contract):
    ca_rate()
    in_california(contract)
    balances.balance_grant(
        contract=contract,
        kind="commit",
        amount=D(1000),
        starts_on=dt.date(2026, 11, 1),
        expires_on=dt.date(2027, 11, 1),
        as_of=T0,
        actor=None,
    )
    use(6, 1000)
    november = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    # Charges 850.00 (November's seats 400.00 and credits 50.00, December's seats 400.00 in advance) + the
    # 1,000.00 purchase; the commitment pays the 850.00: base 1,000.00, tax 72.50.
    assert taxes(november) == [("CA sales tax (US-CA) 7.25%", D("1000.00"), D("72.50"))]
    assert november.total == D("1072.50")
    # December's invoice bills January's 400.00 seats; the commitment's last 150.00 (1,000.00 - 850.00) pays part
    # of them and is not taxed again: base 250.00, 7.25% = 18.125 -> 18.13.
    december = invoice_compute(contract=contract, period=DECEMBER, as_of=CLOSE)
    assert taxes(december) == [("CA sales tax (US-CA) 7.25%", D("250.00"), D("18.13"))]
    assert december.total == D("268.13")


def test_one_tax_line_per_rate_when_a_correction_falls_under_the_earlier_rate(contract):
    ca_rate(effective_to=dt.date(2026, 12, 1))
    ca_rate(rate_percent=D(8), effective_from=dt.date(2026, 12, 1), name="CA sales tax 2027")
    in_california(contract)
    use(6, 1000)
    invoice_finalize(invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None)
    use(1, 1000, prefix="late")
    UsageEvent.objects.filter(transaction_id="late0").update(received_at=dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    december = invoice_compute(contract=contract, period=DECEMBER, as_of=CLOSE)
    # January's seats (billed in advance) 400.00 at 8% = 32.00; November's late 10.00 at November's 7.25% = 0.725
    # -> 0.73 (December's seats were billed in advance on November's invoice: no line for them)
    assert sorted(taxes(december)) == [
        ("CA sales tax (US-CA) 7.25%", D("10.00"), D("0.73")),
        ("CA sales tax 2027 (US-CA) 8%", D("400.00"), D("32.00")),
    ]
    assert (december.subtotal, december.tax_total, december.total) == (D("410.00"), D("32.73"), D("442.73"))


def test_a_finalized_invoice_keeps_its_tax_when_the_customer_changes(contract):
    ca_rate()
    in_california(contract)
    final = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )
    customer_update(customer=contract.customer, actor=None, reason="exempt", tax_exempt=True, tax_exempt_reason="NGO")
    assert Invoice.objects.get(pk=final.pk).tax_total == D("58.00")  # (400.00 + 400.00 December's) x 7.25%
    for frozen in ({"tax_total": D(0)}, {"kind": "off_cycle"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Invoice.objects.filter(pk=final.pk).update(**frozen)  # the database refuses it, not just the code
    assert Invoice.objects.get(pk=final.pk).tax_total == D("58.00")


# --- API ------------------------------------------------------------------------------------------------


def test_tax_rates_api_reads_with_read_scope_and_writes_with_write_scope(read_client, write_client, anon_client):
    body = {"name": "VAT", "rate_percent": "19", "region": "DE", "effective_from": "2026-01-01"}
    assert anon_client.get("/api/v1/tax-rates").status_code in (401, 403)
    assert read_client.post("/api/v1/tax-rates", body, format="json").status_code == 403
    assert not TaxRate.objects.exists()
    created = write_client.post("/api/v1/tax-rates", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["rate_percent"] == "19" and created.json()["region"] == "DE"
    listed = read_client.get("/api/v1/tax-rates?region=DE").json()
    assert [r["name"] for r in listed["results"]] == ["VAT"]
    clash = write_client.post("/api/v1/tax-rates", {**body, "effective_from": "2026-06-01"}, format="json")
    assert clash.status_code == 400 and clash.json()["error"]["code"] == "overlapping_tax_rate"
    bad = write_client.post("/api/v1/tax-rates", {**body, "region": "ZZ", "rate_percent": "-2"}, format="json")
    assert bad.status_code == 400
    assert TaxRate.objects.count() == 1
    pk = created.json()["id"]
    changed = write_client.patch(
        f"/api/v1/tax-rates/{pk}", {"effective_to": "2027-01-01", "reason": "rate changes"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["effective_to"] == "2027-01-01"
    assert read_client.patch(f"/api/v1/tax-rates/{pk}", {"name": "x", "reason": "y"}, format="json").status_code == 403


def test_customer_api_reads_and_changes_tax_fields(contract, write_client):
    url = f"/api/v1/customers/{contract.customer.external_id}"
    bad = write_client.patch(url, {"tax_region": "US-XX", "reason": "move"}, format="json")
    assert bad.status_code == 400
    assert write_client.patch(url, {"tax_exempt": True, "reason": "cert"}, format="json").status_code == 400
    assert Customer.objects.get(pk=contract.customer.pk).tax_region == ""
    ok = write_client.patch(
        url,
        {"tax_region": "US-CA", "tax_exempt": True, "tax_exempt_reason": "reseller", "reason": "cert"},
        format="json",
    )
    assert ok.status_code == 200, ok.json()
    data = write_client.get(url).json()
    assert (data["tax_region"], data["tax_exempt"], data["tax_exempt_reason"]) == ("US-CA", True, "reseller")


# --- admin ----------------------------------------------------------------------------------------------


def test_tax_rates_in_the_admin_go_through_the_service(admin_client):
    add = reverse("admin:billing_taxrate_add")
    form = {"name": "VAT", "rate_percent": "19", "region": "DE", "effective_from": "2026-01-01", "effective_to": ""}
    assert admin_client.get(add).status_code == 200
    response = admin_client.post(add, {**form, "change_reason": "German VAT"})
    assert response.status_code == 302
    rate = TaxRate.objects.get()
    assert rate.history.first().history_change_reason == "German VAT"
    for bad in ({"effective_from": "2026-06-01"}, {"region": "DE-XX", "effective_from": "2030-01-01"}):
        response = admin_client.post(add, {**form, **bad})
        assert response.status_code == 200 and response.context["adminform"].form.errors
    assert TaxRate.objects.count() == 1
    assert admin_client.get(reverse("admin:billing_taxrate_changelist")).status_code == 200
    assert (
        admin_client.post(reverse("admin:billing_taxrate_delete", args=[rate.pk]), {"post": "yes"}).status_code == 403
    )
    assert TaxRate.objects.filter(pk=rate.pk).exists()


def test_the_invoice_admin_shows_tax_and_kind(admin_client, contract):
    ca_rate()
    in_california(contract)
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    page = admin_client.get(reverse("admin:billing_invoice_change", args=[invoice.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    # 7.25% of (November's 400.00 seats + December's 400.00 billed in advance) = 58.00
    assert "58.00 USD" in body and "Period invoice" in body and "CA sales tax (US-CA) 7.25%" in body


def test_the_customer_admin_checks_the_tax_fields_together(admin_client, contract):
    customer = contract.customer
    page = reverse("admin:contracts_customer_change", args=[customer.pk])
    form = {
        "external_id": customer.external_id,
        "name": customer.name,
        "currency": customer.currency,
        "timezone": "UTC",
        "metadata": "{}",
        "tax_region": "US-CA",
        "tax_exempt": "on",
        "tax_exempt_reason": "",
        "aliases-TOTAL_FORMS": "0",
        "aliases-INITIAL_FORMS": "0",
        "change_reason": "exempt as a reseller",  # every change form asks why (the audit trail)
    }
    response = admin_client.post(page, form)
    assert response.status_code == 200 and "tax_exempt_reason" in response.context["adminform"].form.errors
    assert Customer.objects.get(pk=customer.pk).tax_region == ""
    # Saving the customer page works with its alias inline too (an alias added through the service).
    response = admin_client.post(
        page, {**form, "tax_exempt_reason": "reseller", "aliases-TOTAL_FORMS": "1", "aliases-0-alias": "acme-ws"}
    )
    assert response.status_code == 302
    assert list(customer.aliases.values_list("alias", flat=True)) == ["acme-ws"]
    saved = Customer.objects.get(pk=customer.pk)
    assert (saved.tax_region, saved.tax_exempt, saved.tax_exempt_reason) == ("US-CA", True, "reseller")
