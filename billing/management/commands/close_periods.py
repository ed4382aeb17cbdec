"""Close billing periods now (or as of a given time): the same run Celery beat starts, with a progress bar."""

import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError

from billing.services.runs import invoice_run
from revops import clock


class Command(BaseCommand):
    help = "Invoice every ended period and finalize drafts past their grace period. Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="an RFC 3339 time to close periods up to (default: now)")

    def handle(self, *args, as_of=None, **options):
        moment = clock.now()
        if as_of:
            try:
                moment = dt.datetime.fromisoformat(as_of)
            except ValueError:
                raise CommandError(f"--as-of {as_of!r} is not an RFC 3339 time") from None
            if moment.tzinfo is None:
                raise CommandError("--as-of needs a UTC offset (e.g. 2026-12-01T00:00:00Z)")

        def progress(done: int, total: int) -> None:
            width = 40
            filled = int(width * done / total) if total else width
            sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} contracts")
            sys.stdout.flush()

        run = invoice_run(as_of=moment, progress=progress if self.stdout.isatty() else None)
        self.stdout.write("")
        self.stdout.write(
            f"run {run.pk}: {run.contracts_total} contracts, {run.invoices_made} invoices finalized, "
            f"{len(run.failures)} failures"
        )
        for failure in run.failures:
            self.stderr.write(f"  contract {failure['contract']}: {failure['message']}")
