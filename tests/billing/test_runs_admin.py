"""The period-close runs in the admin: the list with progress, a run's page, and starting a close."""

import datetime as dt
import html

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from billing.models import Invoice, InvoiceRun
from billing.services.runs import invoice_run, invoice_run_create
from revops import clock
from tests.billing.test_runs_progress import broken_contract

pytestmark = pytest.mark.django_db
AS_OF = dt.datetime(2026, 4, 10, tzinfo=dt.UTC)


def staff(*perms: str) -> Client:
    user = get_user_model().objects.create_user(username="finance", password="x", is_staff=True)
    for perm in perms:
        user.user_permissions.add(Permission.objects.get(codename=perm))
    client = Client()
    client.force_login(user)
    return client


def test_the_list_shows_each_run_with_its_progress_and_refreshes_while_one_runs(admin_client, contract):
    done = invoice_run(as_of=AS_OF)
    running = invoice_run_create(as_of=AS_OF)
    page = admin_client.get(reverse("admin:billing_invoicerun_changelist")).content.decode()
    assert f"Run {done.pk} (" in page and f"Run {running.pk} (" in page
    assert "width:100%" in page and "width:0%" in page  # the bars: one run complete, one not started
    assert '<meta http-equiv="refresh" content="3">' in page
    assert "Start a period close now" in page
    InvoiceRun.objects.filter(pk=running.pk).update(status="finished")
    page = admin_client.get(reverse("admin:billing_invoicerun_changelist")).content.decode()
    assert "http-equiv" not in page


def test_a_runs_page_shows_its_failures_timings_and_invoices(admin_client, contract):
    broken = broken_contract()
    run = invoice_run(as_of=AS_OF)
    page = html.unescape(admin_client.get(reverse("admin:billing_invoicerun_change", args=[run.pk])).content.decode())
    assert "Failures (1)" in page  # the broken contract's opening invoice (its periods wait for it)
    assert f"contract {broken.pk}" in page and "no_price_version" in page
    assert "Invoices finalized (4)" in page  # the opening invoice (January in advance), January to March
    for invoice in Invoice.objects.filter(contract=contract):
        assert reverse("admin:billing_invoice_change", args=[invoice.pk]) in page
    assert "2 / 2" in page  # contracts done
    assert "Time taken" in page and "http-equiv" not in page


def test_start_asks_for_confirmation_then_starts_a_run(admin_client, contract, django_capture_on_commit_callbacks):
    start = reverse("admin:billing_invoicerun_start")
    page = admin_client.get(start).content.decode()
    assert "Yes, start the period close" in page
    assert not InvoiceRun.objects.exists()  # showing the page changes nothing
    with clock.frozen_at(AS_OF), django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(start, {"chunk_size": "5"})
    run = InvoiceRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:billing_invoicerun_change", args=[run.pk]
    )
    run.refresh_from_db()
    # The opening invoice, then January to March.
    assert (run.as_of, run.status, run.contracts_done, run.invoices_made) == (AS_OF, "finished", 1, 4)
    assert run.started_by.username == "admin"


def test_start_refuses_bad_input_and_staff_without_permission(admin_client, contract):
    start = reverse("admin:billing_invoicerun_start")
    page = admin_client.post(start, {"chunk_size": "0"}).content.decode()
    assert "greater than or equal to 1" in page
    viewer = staff("view_invoicerun")
    assert viewer.get(reverse("admin:billing_invoicerun_changelist")).status_code == 200
    assert viewer.get(start).status_code == 403
    assert viewer.post(start, {"chunk_size": "5"}).status_code == 403
    assert not InvoiceRun.objects.exists()
