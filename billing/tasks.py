"""Billing tasks: thin wrappers that call services."""

from __future__ import annotations

import logging

from celery import shared_task

from billing.models import Invoice
from billing.pdf import invoice_document_store

logger = logging.getLogger(__name__)


@shared_task(name="billing.render_invoice_pdf")
def render_invoice_pdf(invoice_id: int) -> int:
    """Render and store a numbered invoice's PDF (once; a rerun returns the stored one). Returns the document id."""
    invoice = Invoice.objects.get(pk=invoice_id)
    return invoice_document_store(invoice).pk


@shared_task(name="billing.render_invoice_pdfs")
def render_invoice_pdfs(invoice_ids: list[int]) -> list[int]:
    """Several invoices' PDFs, one after another (a period close queues its invoices a few per message:
    one message per invoice cost the close more than the rendering it asked for). Each is stored on its
    own; one that fails does not stop the others, and the task then fails naming it. Returns the ids of
    the documents stored."""
    stored, failed = [], []
    for invoice_id in invoice_ids:
        try:
            stored.append(render_invoice_pdf(invoice_id))
        except Exception:
            logger.exception("invoice %s: PDF not rendered", invoice_id)
            failed.append(invoice_id)
    if failed:
        raise RuntimeError(f"PDFs not rendered for invoices {failed}; rendered {len(stored)}")
    return stored


@shared_task(name="billing.close_periods")
def close_periods() -> int:
    """Period close (hourly on beat): a run whose chunks the workers close. Returns the run's id."""
    from billing.services.runs import invoice_run_start
    from revops import clock

    return invoice_run_start(as_of=clock.now()).pk


@shared_task(name="billing.close_periods_chunk")
def close_periods_chunk(chunk_id: int) -> int:
    """Close one chunk of a run's contracts (a duplicate delivery of a chunk being worked on does nothing)."""
    from billing.services.runs import invoice_run_chunk_close

    chunk = invoice_run_chunk_close(chunk_id=chunk_id)
    return chunk.position if chunk else 0


@shared_task(name="billing.sweep_invoice_runs")
def sweep_invoice_runs() -> int:
    """Queue again the chunks of running runs whose worker died or whose message was lost (on beat)."""
    from billing.services.runs import invoice_runs_sweep
    from revops import clock

    return len(invoice_runs_sweep(now=clock.now()))


@shared_task(name="billing.expire_balances")
def expire_balances() -> int:
    """Balance expiry (hourly on beat): commitments and credits past their access period lapse or roll over."""
    from billing.services.expiries import balances_expire_due
    from revops import clock

    return len(balances_expire_due(as_of=clock.now()))


from billing.webhooks.tasks import deliver_webhook, sweep_webhooks  # noqa: E402,F401
