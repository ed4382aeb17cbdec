"""Load the demo company's data. Safe to run again: what exists is kept, what is missing is added."""

from django.conf import settings
from django.core.management.base import BaseCommand

from demo.catalog import load_catalog
from demo.contracts import load_contracts
from demo.customers import load_customers
from demo.usage import load_usage
from revops import clock


class Command(BaseCommand):
    help = "Load demo data for Lumora AI (idempotent)."

    def handle(self, *args, **options):
        customers = load_customers(actor=None)
        now = clock.now()
        cards = load_catalog(actor=None, as_of=now)
        contracts = load_contracts(actor=None, as_of=now)
        events = load_usage(as_of=now, days=settings.REVOPS_DEMO_USAGE_DAYS)
        self.stdout.write(
            f"demo data: {len(customers)} customers, {len(cards)} rate cards, {len(contracts)} contracts, "
            f"{events:,} usage events added"
        )
