"""Credit notes correct finalized invoices without touching them: per line or whole, never twice, numbered."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from billing.models import CreditNote, Invoice
from billing.services.credit_notes import credit_note_create
from billing.services.invoices import invoice_compute, invoice_finalize
from revops import clock
from revops.errors import Conflict, ValidationError
from tests.billing.support import CLOSE, NOVEMBER, use

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(contract):
    use(5, 1000)
    return invoice_finalize(
        invoice=invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE), as_of=CLOSE, actor=None
    )  # seats 400.00 (line 1), usage 40.00 (line 2), December's seats in advance 400.00 (line 3): 840.00


def test_credit_a_line_in_part_then_the_rest_of_the_invoice(invoice):
    seats = invoice.lines.get(position=1)
    first = credit_note_create(
        invoice=invoice, reason="2 seats unused", as_of=CLOSE, actor=None, lines=[(seats, D("80.00"))]
    )
    assert (first.number, first.total) == ("CN-2026-000001", D("80.00"))
    rest = credit_note_create(invoice=invoice, reason="customer left", as_of=CLOSE, actor=None)
    # what is left: 400 - 80 of November's seats, all 40 of usage and all 400 of December's seats: 760
    assert (rest.number, rest.total) == ("CN-2026-000002", D("760.00"))
    with pytest.raises(Conflict):
        credit_note_create(invoice=invoice, reason="again", as_of=CLOSE, actor=None)
    assert Invoice.objects.get(pk=invoice.pk).total == D("840.00")  # the invoice itself never changes


def test_over_crediting_a_line_or_a_draft_is_refused_and_nothing_is_issued(invoice, contract):
    seats = invoice.lines.get(position=1)
    with pytest.raises(ValidationError) as excinfo:
        credit_note_create(invoice=invoice, reason="x", as_of=CLOSE, actor=None, lines=[(seats, D("400.01"))])
    assert "lines.0.amount" in excinfo.value.fields
    with pytest.raises(ValidationError):
        credit_note_create(invoice=invoice, reason=" ", as_of=CLOSE, actor=None)
    draft = invoice_compute(
        contract=contract, period=NOVEMBER.__class__(dt.date(2026, 12, 1), dt.date(2027, 1, 1)), as_of=CLOSE
    )
    with pytest.raises(Conflict):
        credit_note_create(invoice=draft, reason="x", as_of=CLOSE, actor=None)
    assert not CreditNote.objects.exists()


def test_credit_notes_are_final_in_the_database(invoice):
    note = credit_note_create(invoice=invoice, reason="goodwill", as_of=CLOSE, actor=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditNote.objects.filter(pk=note.pk).update(total=D(1))
    with pytest.raises(IntegrityError), transaction.atomic():
        note.lines.all().delete()


def test_credit_notes_over_the_api(invoice, write_client, read_client):
    url = f"/api/v1/invoices/{invoice.pk}/credit-notes"
    with clock.frozen_at(CLOSE):
        refused = read_client.post(url, {"reason": "x"}, format="json")
        assert refused.status_code == 403
        bad = write_client.post(url, {"reason": "x", "lines": [{"line": 9, "amount": "1.00"}]}, format="json")
        assert bad.status_code == 400 and "lines.0.line" in bad.json()["error"]["fields"]
        made = write_client.post(
            url, {"reason": "usage overbilled", "lines": [{"line": 2, "amount": "15.50"}]}, format="json"
        )
    assert made.status_code == 201, made.json()
    assert (made.json()["number"], made.json()["total"]) == ("CN-2026-000001", "15.50")
    assert read_client.get(url).json()[0]["lines"] == [
        {"invoice_line": 2, "description": "AI credits", "amount": "15.50"}
    ]
