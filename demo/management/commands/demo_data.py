"""Load the demo company's data. Safe to run again: what exists is kept, what is missing is added."""

from django.core.management.base import BaseCommand
from django.db import transaction

from demo.catalog import load_catalog
from demo.customers import load_customers
from revops import clock


class Command(BaseCommand):
    help = "Load demo data for Lumora AI (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        customers = load_customers(actor=None)
        cards = load_catalog(actor=None, as_of=clock.now())
        self.stdout.write(f"demo data: {len(customers)} customers, {len(cards)} rate cards")
