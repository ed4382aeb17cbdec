"""Period close: invoices for every ended period, once, drafts finalized after their grace period."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from billing.models import Invoice
from billing.services.runs import closed_periods, invoice_run

pytestmark = pytest.mark.django_db


def test_closed_periods_end_at_midnight_in_the_customers_timezone(contract):
    contract.customer.timezone = "America/New_York"
    contract.customer.save()
    # November ends at 2026-12-01 05:00 UTC in New York
    before = closed_periods(contract, dt.datetime(2026, 12, 1, 4, 59, tzinfo=dt.UTC))
    after = closed_periods(contract, dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC))
    assert (before[-1].start, after[-1].start) == (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    assert len(after) == 11  # January to November


def test_a_run_invoices_every_ended_period_once_and_finalizes_after_grace(contract, settings):
    settings.REVOPS_INVOICE_GRACE_HOURS = 48
    as_of = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)  # November ended 36 h ago: still in grace
    run = invoice_run(as_of=as_of)
    # The contract started on 1 January: the run first issues its opening invoice (January's seats in
    # advance, the series' first number), then closes January to November.
    opening = Invoice.objects.get(contract=contract, kind="opening")
    assert (opening.status, opening.number, opening.total) == ("finalized", "INV-2026-000001", D("400.00"))
    invoices = Invoice.objects.filter(contract=contract, kind="period").order_by("period_start")
    assert invoices.count() == 11
    assert [i.status for i in invoices][-2:] == ["finalized", "draft"]
    assert run.invoices_made == 11 and run.failures == []  # the opening invoice and January to October
    numbers = [i.number for i in invoices if i.number]
    assert numbers == [f"INV-2026-{n:06d}" for n in range(2, 12)]
    # A rerun (after a crash, or the next hour) duplicates nothing; after the grace the last one finalizes.
    invoice_run(as_of=as_of)
    assert Invoice.objects.filter(contract=contract).count() == 12
    invoice_run(as_of=as_of + dt.timedelta(hours=13))
    last = Invoice.objects.get(contract=contract, kind="period", period_start=dt.date(2026, 11, 1))
    # November's seats were billed in advance on October's invoice (no line for them again), no usage:
    # December's 10 seats x 40.00 in advance.
    assert (last.status, last.number, last.total) == ("finalized", "INV-2026-000012", D("400.00"))


def test_the_command_closes_periods_as_of_a_time(contract, capsys):
    call_command("close_periods", "--as-of", "2026-03-15T00:00:00Z")
    # The opening invoice (January in advance), then January and February closed.
    assert "3 invoices finalized" in capsys.readouterr().out
    assert Invoice.objects.filter(contract=contract, status="finalized").count() == 3
