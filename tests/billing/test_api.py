"""The invoice API, driven as a billing system drives it: an API key posting JSON, the clock pinned.

Data is made through the services, as in test_invoices.py: 10 seats at 40 and AI credits at 0.01 with
1,000 included each period (USD). Every amount is worked out by hand beside it.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.models import Invoice, InvoiceCounter
from revops import clock
from tests.billing.support import CLOSE, use

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def at_close():
    with clock.frozen_at(CLOSE):
        yield


def compute(client, contract, period_start="2026-11-01"):
    return client.post(f"/api/v1/contracts/{contract.pk}/invoices", {"period_start": period_start}, format="json")


def amounts(body) -> list[tuple[str, str]]:
    return [(line["kind"], line["amount"]) for line in body["lines"]]


def snapshot(invoice_pk: int):
    """What a refused request must leave as it was: the invoice, its lines, its history, the counters."""
    invoice = Invoice.objects.get(pk=invoice_pk)
    return (
        invoice.status,
        invoice.number,
        invoice.total,
        invoice.void_reason,
        list(invoice.lines.values_list("kind", "amount")),
        invoice.history.count(),
        list(InvoiceCounter.objects.values_list("series", "next_number")),
    )


def test_the_invoice_flow_draft_recompute_finalize_void_and_mark_paid(contract, write_client):
    use(5, 1000)  # 5,000 credits
    response = compute(write_client, contract)
    assert response.status_code == 200, response.json()
    draft = response.json()
    # 10 seats x 40 = 400.00; (5,000 - 1,000 included) x 0.01 = 40.00; December's 10 seats in advance: 400.00
    assert amounts(draft) == [("subscription", "400.00"), ("usage", "40.00"), ("subscription", "400.00")]
    assert (draft["status"], draft["number"], draft["subtotal"], draft["total"]) == ("draft", None, "840.00", "840.00")
    ahead = draft["lines"][2]
    assert (ahead["service_start"], ahead["service_end"]) == ("2026-12-01", "2027-01-01")
    assert (draft["customer"], draft["contract"], draft["currency"]) == ("acme", contract.pk, "USD")
    assert (draft["period_start"], draft["period_end"]) == ("2026-11-01", "2026-12-01")
    usage_line = draft["lines"][1]
    assert usage_line["product"] == "credits"
    assert (D(usage_line["quantity"]), D(usage_line["unit_price"])) == (D(5000), D("0.01"))  # 1,000 of it included
    assert (usage_line["service_start"], usage_line["service_end"], usage_line["balance_id"]) == (
        "2026-11-01",
        "2026-12-01",
        None,
    )
    assert [(row["description"], D(row["quantity"]), D(row["amount"])) for row in usage_line["breakdown"]] == [
        ("Included units (no charge)", D(1000), D(0)),
        ("Per unit", D(4000), D(40)),
    ]

    use(2, 500, prefix="late")  # 1,000 more credits arrive late: 10.00 more
    response = write_client.post(f"/api/v1/invoices/{draft['id']}/recompute")
    assert response.status_code == 200, response.json()
    assert amounts(response.json()) == [("subscription", "400.00"), ("usage", "50.00"), ("subscription", "400.00")]
    assert response.json()["total"] == "850.00"
    # Computing the period again is the same invoice, not a second one.
    assert compute(write_client, contract).json()["id"] == draft["id"]
    assert Invoice.objects.count() == 1

    response = write_client.post(f"/api/v1/invoices/{draft['id']}/finalize")
    assert response.status_code == 200, response.json()
    final = response.json()
    assert (final["status"], final["number"], final["total"]) == ("finalized", "INV-2026-000001", "850.00")
    assert (final["finalized_at"], final["due_date"]) == ("2026-12-01T09:00:00Z", "2026-12-31")

    response = write_client.post(f"/api/v1/invoices/{draft['id']}/void", {"reason": "wrong seats"}, format="json")
    assert response.status_code == 200, response.json()
    voided = response.json()
    assert (voided["status"], voided["number"], voided["void_reason"]) == ("void", "INV-2026-000001", "wrong seats")
    assert Invoice.objects.get(pk=draft["id"]).history.first().history_change_reason == "voided: wrong seats"

    # December: the voided November invoice billed nothing of December, so December's seats are billed whole
    # (400.00; no usage yet), then January's in advance (400.00); finalized as the next number, then paid.
    december = compute(write_client, contract, "2026-12-01").json()
    assert amounts(december) == [("subscription", "400.00"), ("subscription", "400.00")]  # no usage: no usage line
    assert [line["service_start"] for line in december["lines"]] == ["2026-12-01", "2027-01-01"]
    numbered = write_client.post(f"/api/v1/invoices/{december['id']}/finalize").json()
    assert (numbered["number"], numbered["total"]) == ("INV-2026-000002", "800.00")
    response = write_client.post(
        f"/api/v1/invoices/{december['id']}/mark-paid", {"reference": "wire 4471"}, format="json"
    )
    assert response.status_code == 200, response.json()
    paid = response.json()
    assert (paid["status"], paid["payment_reference"], paid["paid_at"]) == ("paid", "wire 4471", "2026-12-01T09:00:00Z")

    detail = write_client.get(f"/api/v1/invoices/{december['id']}").json()
    assert (detail["status"], detail["total"]) == ("paid", "800.00")


def test_the_list_filters_by_customer_status_and_contract(contract, read_client):
    from billing.services.invoices import invoice_compute, invoice_finalize
    from revops.periods import Period

    november = invoice_compute(
        contract=contract, period=Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1)), as_of=CLOSE
    )
    december = invoice_compute(contract=contract, period=Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1)), as_of=CLOSE)
    invoice_finalize(invoice=november, as_of=CLOSE, actor=None)

    def ids(query: str) -> list[int]:
        response = read_client.get(f"/api/v1/invoices{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [december.pk, november.pk]  # newest period first
    assert ids("?status=finalized") == [november.pk]
    assert ids("?status=draft&customer=acme") == [december.pk]
    assert ids("?customer=nobody") == []
    assert ids(f"?contract={contract.pk}") == [december.pk, november.pk]
    assert ids(f"?contract={contract.pk + 1}") == []
    listed = read_client.get("/api/v1/invoices?status=finalized").json()
    assert listed["count"] == 1
    # November's 400.00 seats and December's 400.00 billed in advance
    assert (listed["results"][0]["number"], listed["results"][0]["total"]) == ("INV-2026-000001", "800.00")
    bad = read_client.get("/api/v1/invoices?status=late")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]
    assert read_client.get("/api/v1/invoices/999999").status_code == 404


def test_refusals_change_nothing(contract, write_client):
    use(1, 2000)  # 1,000 over the included: 10.00
    invoice_pk = compute(write_client, contract).json()["id"]

    # A day that does not start a period: 400, and no invoice is made for it.
    response = compute(write_client, contract, "2026-11-15")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["period_start"]
    assert Invoice.objects.count() == 1
    # Unknown input is refused too.
    response = write_client.post(
        f"/api/v1/contracts/{contract.pk}/invoices", {"period_start": "2026-11-01", "total": "1"}, format="json"
    )
    assert response.status_code == 400 and "total" in response.json()["error"]["fields"]

    # Voiding or paying a draft: 409.
    before = snapshot(invoice_pk)
    assert write_client.post(f"/api/v1/invoices/{invoice_pk}/void", {"reason": "x"}, format="json").status_code == 409
    response = write_client.post(f"/api/v1/invoices/{invoice_pk}/mark-paid", {"reference": "w1"}, format="json")
    assert response.status_code == 409
    assert snapshot(invoice_pk) == before

    assert write_client.post(f"/api/v1/invoices/{invoice_pk}/finalize").status_code == 200
    finalized = snapshot(invoice_pk)
    assert finalized[:3] == ("finalized", "INV-2026-000001", D("810.00"))  # 400.00 + 10.00 + December's 400.00

    # Finalizing twice: 409, the number and the counter stay as they were.
    response = write_client.post(f"/api/v1/invoices/{invoice_pk}/finalize")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_draft"
    # Recomputing a finalized invoice: 409.
    response = write_client.post(f"/api/v1/invoices/{invoice_pk}/recompute")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "not_draft")
    # Voiding without a reason (missing or blank): 400.
    for body in ({}, {"reason": "   "}, {"reason": ""}):
        response = write_client.post(f"/api/v1/invoices/{invoice_pk}/void", body, format="json")
        assert response.status_code == 400, body
        assert "reason" in response.json()["error"]["fields"]
    # Paying without a reference: 400.
    assert write_client.post(f"/api/v1/invoices/{invoice_pk}/mark-paid", {}, format="json").status_code == 400
    assert snapshot(invoice_pk) == finalized

    assert write_client.post("/api/v1/invoices/999999/finalize").status_code == 404
    assert compute(write_client, contract.__class__(pk=999999)).status_code == 404


def test_permissions_anonymous_read_key_and_write_key(contract, anon_client, read_client, write_client):
    invoice_pk = compute(write_client, contract).json()["id"]
    before = snapshot(invoice_pk)

    for method, path in [
        ("get", "/api/v1/invoices"),
        ("get", f"/api/v1/invoices/{invoice_pk}"),
        ("post", f"/api/v1/invoices/{invoice_pk}/finalize"),
        ("post", f"/api/v1/contracts/{contract.pk}/invoices"),
    ]:
        response = getattr(anon_client, method)(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "not_authenticated"

    assert read_client.get("/api/v1/invoices").status_code == 200
    assert read_client.get(f"/api/v1/invoices/{invoice_pk}").status_code == 200
    for path, body in [
        (f"/api/v1/invoices/{invoice_pk}/finalize", None),
        (f"/api/v1/invoices/{invoice_pk}/recompute", None),
        (f"/api/v1/invoices/{invoice_pk}/void", {"reason": "x"}),
        (f"/api/v1/invoices/{invoice_pk}/mark-paid", {"reference": "w"}),
        (f"/api/v1/contracts/{contract.pk}/invoices", {"period_start": "2026-12-01"}),
    ]:
        response = read_client.post(path, body, format="json")
        assert response.status_code == 403, path
    assert snapshot(invoice_pk) == before
    assert Invoice.objects.count() == 1

    response = write_client.post(f"/api/v1/invoices/{invoice_pk}/finalize")
    assert response.status_code == 200
    assert response.json()["number"] == "INV-2026-000001"


def test_a_retried_finalize_with_the_same_idempotency_key_gets_the_first_answer(contract, write_client):
    invoice_pk = compute(write_client, contract).json()["id"]
    first = write_client.post(f"/api/v1/invoices/{invoice_pk}/finalize", HTTP_IDEMPOTENCY_KEY="fin-1")
    again = write_client.post(f"/api/v1/invoices/{invoice_pk}/finalize", HTTP_IDEMPOTENCY_KEY="fin-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["number"] == first.json()["number"] == "INV-2026-000001"
    assert InvoiceCounter.objects.get().next_number == 2
