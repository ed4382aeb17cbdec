"""Close billing periods now (or as of a given time): the same run Celery beat starts, with a progress bar.

By default the run happens in this process. With --workers it is split into chunks queued for the Celery
workers, and the command follows the run's progress from the database until it ends (with no broker
configured the chunks run here, as every task does then).
"""

import datetime as dt
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from billing.models import InvoiceRun, RunStatus
from billing.services.runs import CHUNK_SIZE, invoice_run, invoice_run_start
from revops import clock


class Command(BaseCommand):
    help = "Invoice every ended period and finalize drafts past their grace period. Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="an RFC 3339 time to close periods up to (default: now)")
        parser.add_argument(
            "--workers", action="store_true", help="queue the run's chunks for the Celery workers and follow it"
        )
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="contracts per chunk (--workers)")
        parser.add_argument(
            "--no-wait", action="store_true", help="with --workers: print the run's id and return at once"
        )

    def handle(self, *args, as_of=None, workers=False, chunk_size=CHUNK_SIZE, no_wait=False, **options):
        moment = clock.now()
        if as_of:
            try:
                moment = dt.datetime.fromisoformat(as_of)
            except ValueError:
                raise CommandError(f"--as-of {as_of!r} is not an RFC 3339 time") from None
            if moment.tzinfo is None:
                raise CommandError("--as-of needs a UTC offset (e.g. 2026-12-01T00:00:00Z)")
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        bar = self._bar if self.stdout.isatty() else None

        if workers:
            run = invoice_run_start(as_of=moment, chunk_size=chunk_size)
            self.stdout.write(f"run {run.pk}: {run.contracts_total} contracts in {run.chunks_total} chunks queued")
            if no_wait:
                return
            run = self._follow(run, bar)
        else:
            run = invoice_run(as_of=moment, progress=bar)
        if bar:
            self.stdout.write("")
        self.stdout.write(
            f"run {run.pk} {run.status}: {run.contracts_done}/{run.contracts_total} contracts, "
            f"{run.invoices_created} invoices made, {run.invoices_made} invoices finalized, "
            f"{len(run.failures)} failures"
        )
        for failure in run.failures:
            self.stderr.write(f"  contract {failure['contract']}: {failure['message']}")
        if run.status == RunStatus.FAILED:
            raise CommandError(f"run {run.pk} failed: a chunk could not finish (rerun to resume it)")

    def _follow(self, run: InvoiceRun, bar, poll: float = 0.5) -> InvoiceRun:
        while True:
            run = InvoiceRun.objects.get(pk=run.pk)
            if bar:
                bar(run.contracts_done, run.contracts_total)
            if run.status != RunStatus.RUNNING:
                return run
            time.sleep(poll)

    @staticmethod
    def _bar(done: int, total: int) -> None:
        width = 40
        filled = int(width * done / total) if total else width
        sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} contracts")
        sys.stdout.flush()
