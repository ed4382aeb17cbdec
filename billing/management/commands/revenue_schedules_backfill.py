"""Make the revenue schedules of invoices finalized before schedules existed. Safe to run again: an invoice
whose lines all have their schedule is skipped, and a line never gets two."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from billing.revenue.schedules import invoices_missing_schedules, revenue_schedule_create


class Command(BaseCommand):
    help = "Build the missing revenue schedules of finalized, paid and voided invoices (idempotent)."

    def handle(self, *args, **options):
        invoices = made = 0
        for invoice in invoices_missing_schedules().iterator(chunk_size=500):
            made += len(revenue_schedule_create(invoice=invoice))
            invoices += 1
        self.stdout.write(f"{made} schedule entries made for {invoices} invoices")
