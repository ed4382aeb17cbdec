"""Billing tasks: thin wrappers that call services."""

from __future__ import annotations

from celery import shared_task

from billing.models import Invoice
from billing.pdf import invoice_document_store


@shared_task(name="billing.render_invoice_pdf")
def render_invoice_pdf(invoice_id: int) -> int:
    """Render and store a numbered invoice's PDF (once; a rerun returns the stored one). Returns the document id."""
    invoice = Invoice.objects.get(pk=invoice_id)
    return invoice_document_store(invoice).pk


@shared_task(name="billing.close_periods")
def close_periods() -> int:
    """Period close (hourly on beat): invoice every ended period, finalize drafts past their grace."""
    from billing.services.runs import invoice_run
    from revops import clock

    return invoice_run(as_of=clock.now()).invoices_made


from billing.webhooks.tasks import deliver_webhook, sweep_webhooks  # noqa: E402,F401


@shared_task(name="billing.expire_balances")
def expire_balances() -> int:
    """Balance expiry (hourly on beat): commitments and credits past their access period lapse or roll over."""
    from billing.services.expiries import balances_expire_due
    from revops import clock

    return len(balances_expire_due(as_of=clock.now()))
