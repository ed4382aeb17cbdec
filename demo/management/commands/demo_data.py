"""Load the demo company's data. Safe to run again: what exists is kept, what is missing is added."""

from django.conf import settings
from django.core.management.base import BaseCommand

from billing.services.runs import invoice_run
from demo.catalog import load_catalog
from demo.clock import load_clock_demo
from demo.contracts import load_contracts
from demo.customers import load_customers
from demo.usage import load_usage
from revops import clock


class Command(BaseCommand):
    help = "Load demo data for Lumora AI (idempotent): customers, catalog, contracts, usage, and closed periods."

    def add_arguments(self, parser):
        parser.add_argument("--skip-invoices", action="store_true", help="do not close the demo's ended periods")

    def handle(self, *args, skip_invoices=False, **options):
        customers = load_customers(actor=None)
        now = clock.now()
        cards = load_catalog(actor=None, as_of=now)
        contracts = load_contracts(actor=None, as_of=now)
        events = load_usage(as_of=now, days=settings.REVOPS_DEMO_USAGE_DAYS)
        summary = (
            f"demo data: {len(customers)} customers, {len(cards)} rate cards, {len(contracts)} contracts, "
            f"{events:,} usage events added"
        )
        if not skip_invoices:  # the months already over, invoiced (with PDFs) as the period close would
            summary += f", {invoice_run(as_of=now).invoices_made} invoices finalized"
            simulated = load_clock_demo(actor=None)
            if simulated is not None:
                summary += f"; test clock {simulated.name!r} advanced to {simulated.frozen_time:%Y-%m-%d}"
        self.stdout.write(summary)
