"""Period close: every contract whose period has ended gets its invoice; drafts past their grace finalize.

A run's contracts are split into chunks; each chunk is closed by one Celery task (`invoice_run_start`), or
all of them one after another in this process (`invoice_run`, what test clocks and the demo call). Both go
through `invoice_run_chunk_close`, so they make the same invoices.

A contract that has started is first given its opening invoice if it has none (the first period's fees
billed in advance, billing/services/opening.py). Contracts with one period to close (the usual case) are
then closed up to `TOGETHER` at a time in one transaction by billing/services/batch_close.py; a contract
with several periods (they build on each other) is closed alone, one period after the other, by the
invoice services.

Idempotent and resumable: the database allows one invoice per contract and period, so closing a contract
again computes only what is missing and finalizes only what is still a draft. Each transaction (one
contract, or contracts closed together) also moves its chunk's position and raises the run's counters
(F() updates): a chunk picked up again after its worker died goes on from the first contract not done,
and counts nothing twice.
A contract's failure is recorded on the run and the others go on. The run is marked finished by whichever
chunk ends last.

Timestamps of the run itself (started, heartbeat, finished) are wall-clock times of the work, read from
the project clock; the business moment the periods are closed up to is `as_of`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q, Value
from django.db.models.expressions import CombinedExpression

from billing.models import (
    ChunkStatus,
    Invoice,
    InvoiceKind,
    InvoiceRun,
    InvoiceRunChunk,
    InvoiceStatus,
    RunStatus,
)
from billing.services import fees
from billing.services.batch_close import Result, Work, invoices_close_many
from billing.services.invoices import invoice_compute, invoice_finalize, new_invoice
from billing.services.opening import invoice_opening_issue, opening_due, opening_period
from contracts.models import Contract, ContractStatus
from contracts.prefetch import contracts_prefetched
from contracts.selectors import contract_ended_by, contract_period
from revops import clock
from revops.errors import Conflict, DomainError, ValidationError
from revops.periods import Period, period_bounds_utc

logger = logging.getLogger(__name__)

CHUNK_SIZE = 100
# A running chunk whose heartbeat is older than this is taken to have lost its worker.
STALE_AFTER = dt.timedelta(minutes=10)


def closed_periods(contract: Contract, as_of: dt.datetime) -> list[Period]:
    """The contract's periods that have ended by `as_of` (at midnight in the customer's timezone), up to its end."""
    periods = []
    day = contract.start_date
    while True:
        period = contract_period(contract, day)
        after_end = contract_ended_by(contract, period.start)
        # A contract ended after its next period was billed in advance: that period is closed too, and its
        # invoice gives the fees back.
        if after_end and not fees.fees_billed_exist(contract, period):
            break
        _, ends_at = period_bounds_utc(period, contract.customer.timezone)
        if ends_at > as_of:
            break
        periods.append(period)
        if after_end:
            break
        day = period.end
    return periods


def _grace() -> dt.timedelta:
    return dt.timedelta(hours=settings.REVOPS_INVOICE_GRACE_HOURS)


def _contracts_to_close() -> models.QuerySet[Contract]:
    # Customers on a test clock live at the clock's time: only advancing their clock closes their periods.
    return Contract.objects.filter(
        status__in=[ContractStatus.ACTIVE, ContractStatus.ENDED], customer__test_clock__isnull=True
    )


@transaction.atomic
def invoice_run_create(
    *,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None = None,
    contracts: Iterable[Contract] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> InvoiceRun:
    """A run and its chunks, nothing closed yet. `contracts` limits it (default: every active or ended one)."""
    if chunk_size < 1:
        raise ValidationError("a chunk holds at least one contract", code="invalid", field="chunk_size")
    if contracts is None:
        ids = list(_contracts_to_close().order_by("pk").values_list("pk", flat=True))
    else:
        ids = [c.pk for c in contracts]
    now = clock.now()
    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
    run = InvoiceRun.objects.create(
        started_at=now,
        updated_at=now,
        as_of=as_of,
        started_by=actor,
        contracts_total=len(ids),
        chunks_total=len(chunks),
        status=RunStatus.RUNNING if chunks else RunStatus.FINISHED,
        finished_at=None if chunks else now,
    )
    InvoiceRunChunk.objects.bulk_create(
        InvoiceRunChunk(run=run, number=n, contract_ids=part, queued_at=now) for n, part in enumerate(chunks, start=1)
    )
    return run


def invoice_run(
    *,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None = None,
    contracts: Iterable[Contract] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> InvoiceRun:
    """Close every ended period up to `as_of` in this process: compute missing invoices, recompute drafts,
    finalize those whose grace period is over. `progress(done, total)` is called after each contract."""
    run = invoice_run_create(as_of=as_of, actor=actor, contracts=contracts)
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress(done, run.contracts_total)

    for chunk_id in run.chunks.order_by("number").values_list("pk", flat=True):
        invoice_run_chunk_close(chunk_id=chunk_id, on_contract=step)
    run.refresh_from_db()
    return run


def invoice_run_start(
    *,
    as_of: dt.datetime,
    actor: AbstractBaseUser | None = None,
    contracts: Iterable[Contract] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> InvoiceRun:
    """The same close spread over Celery workers: one task per chunk, queued once the run is stored (with no
    broker the tasks run here, one after another). Follow it on the returned run's row."""
    with transaction.atomic():
        run = invoice_run_create(as_of=as_of, actor=actor, contracts=contracts, chunk_size=chunk_size)
        chunk_ids = list(run.chunks.order_by("number").values_list("pk", flat=True))
        transaction.on_commit(lambda: _queue(chunk_ids))
    run.refresh_from_db()
    return run


def _queue(chunk_ids: list[int]) -> None:
    from billing.tasks import close_periods_chunk

    for chunk_id in chunk_ids:
        close_periods_chunk.apply_async((chunk_id,), queue=settings.REVOPS_RUN_QUEUE)


@transaction.atomic
def _claim(chunk_id: int, *, now: dt.datetime) -> InvoiceRunChunk | None:
    """Take the chunk unless it is done or another worker is on it (a duplicate delivery)."""
    chunk = InvoiceRunChunk.objects.select_for_update().select_related("run").filter(pk=chunk_id).first()
    if chunk is None or chunk.status == ChunkStatus.DONE:
        return None
    if chunk.status == ChunkStatus.RUNNING and chunk.heartbeat_at and chunk.heartbeat_at > now - STALE_AFTER:
        return None
    chunk.status = ChunkStatus.RUNNING
    chunk.attempts += 1
    chunk.heartbeat_at = now
    chunk.error = ""
    chunk.save(update_fields=["status", "attempts", "heartbeat_at", "error"])
    return chunk


@dataclass
class _Outcome:
    created: int = 0
    finalized: int = 0
    failures: list[dict] = field(default_factory=list)

    def add(self, contract_id: int, result: Result, *, about: str = "") -> None:
        """A contract's result from the batch close."""
        self.created += result.created
        self.finalized += result.finalized
        if result.error:
            self.failures.append(_failure(contract_id, result.error, about=about))


def _failure(contract_id: int, exc: DomainError, *, about: str = "") -> dict:
    """How a run records a contract it could not invoice."""
    return {"contract": contract_id, "code": exc.code, "message": f"{about}{exc.message}"}


def invoice_run_chunk_close(
    *, chunk_id: int, on_contract: Callable[[int], None] | None = None
) -> InvoiceRunChunk | None:
    """Close a chunk's contracts from its position on; returns the chunk, or None if there was nothing to take."""
    chunk = _claim(chunk_id, now=clock.now())
    if chunk is None:
        return None
    run = chunk.run
    try:
        todo = chunk.contract_ids[chunk.position :]
        contracts = {
            c.pk: c
            for c in Contract.objects.filter(pk__in=todo).select_related(
                "customer__test_clock", "rate_card", "pinned_version"
            )
        }
        existing = _existing_invoices(todo)
        not_opened = _open(run, [contracts[pk] for pk in todo if pk in contracts], existing)
        due = {pk: _due(contracts[pk], run.as_of, existing.get(pk, {})) for pk in todo if pk in contracts}
        for pk in not_opened:  # named on the run already: its periods wait for the next run (they would fail alike)
            due[pk] = []
        # One period to close (or none): closed together with the others. Several build on each other, and
        # a contract that is not there is reported: both alone.
        alone = {pk for pk in todo if pk not in due or len(due[pk]) > 1}
        periods = {pk: works[0].period for pk, works in due.items() if len(works) == 1}
        # Terms, prices, usage and earlier invoices read once for the chunk.
        with contracts_prefetched(contracts.values(), periods=periods):
            position = chunk.position
            for ids, together in _runs_of(todo, alone):
                if together:
                    _close_together(chunk, position, ids, [work for pk in ids for work in due[pk]], contracts)
                else:
                    _close_one(chunk, position + 1, contracts.get(ids[0]), ids[0], existing.get(ids[0], {}))
                position += len(ids)
                for _ in ids:
                    if on_contract:
                        on_contract(1)
    except Exception as exc:  # the chunk could not go on (database gone, a bug): recorded, picked up by a rerun
        logger.exception("invoice run %s chunk %s failed", run.pk, chunk.number)
        _chunk_end(chunk, status=ChunkStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    _chunk_end(chunk, status=ChunkStatus.DONE)
    return chunk


def _open(run: InvoiceRun, contracts: list[Contract], existing: dict) -> set[int]:
    """Issue the opening invoices due (contracts that have started and have none), before the chunk's periods
    are closed (their invoices count what it billed): together, as period invoices are; one by one if that
    fails. Returns the contracts whose opening invoice could not be made."""
    opened = set(
        Invoice.objects.filter(contract__in=contracts, kind=InvoiceKind.OPENING).values_list("contract_id", flat=True)
    )
    due = [
        contract
        for contract in contracts
        if opening_due(contract, run.as_of, invoiced=set(existing.get(contract.pk, {})), opened=contract.pk in opened)
    ]
    if not due:
        return set()
    with contracts_prefetched(due):  # terms, schedules and prices read once for them all
        try:
            with transaction.atomic():
                works = [
                    Work(contract=c, period=opening_period(c), finalize=True, kind=InvoiceKind.OPENING) for c in due
                ]
                results = invoices_close_many(works, as_of=run.as_of, actor=run.started_by)
                outcome = _Outcome()
                for pk, result in results.items():
                    outcome.add(pk, result, about="opening invoice: ")
                _count(run.pk, outcome)
            return {pk for pk, result in results.items() if result.error}
        except Exception as exc:  # another run issued one of them meanwhile (or a bug): one by one names it
            logger.warning(
                "invoice run %s: opening %s invoices together failed (%r); one by one", run.pk, len(due), exc
            )
        return {contract.pk for contract in due if not _open_one(run, contract)}


def _open_one(run: InvoiceRun, contract: Contract) -> bool:
    """One opening invoice and the run's counters in one transaction; a contract that cannot be billed is named
    on the run (False)."""
    try:
        with transaction.atomic():
            issued = int(invoice_opening_issue(contract=contract, as_of=run.as_of, actor=run.started_by) is not None)
            _count(run.pk, _Outcome(created=issued, finalized=issued))
    except DomainError as exc:
        _count(run.pk, _Outcome(failures=[_failure(contract.pk, exc, about="opening invoice: ")]))
        return False
    return True


def _due(contract: Contract, as_of: dt.datetime, existing: dict) -> list[Work]:
    """The contract's ended periods still to invoice, in order: those with no invoice or a draft. A draft
    still in its grace is (re)computed; one past it is finalized."""
    due = []
    for period in closed_periods(contract, as_of):
        found = existing.get(period.start)
        if found is not None and found[1] != InvoiceStatus.DRAFT:
            continue
        _, ends_at = period_bounds_utc(period, contract.customer.timezone)
        finalize = ends_at + _grace() <= as_of
        due.append(Work(contract=contract, period=period, finalize=finalize, invoice_id=found[0] if found else None))
    return due


# Contracts closed together in one transaction at most: a crash loses at most this much progress.
TOGETHER = 100


def _runs_of(todo: list[int], alone: set[int]) -> Iterable[tuple[list[int], bool]]:
    """The chunk's contracts in order, as runs closed together (one period each) or alone."""
    group: list[int] = []
    for contract_id in todo:
        if contract_id in alone:
            if group:
                yield group, True
                group = []
            yield [contract_id], False
            continue
        group.append(contract_id)
        if len(group) == TOGETHER:
            yield group, True
            group = []
    if group:
        yield group, True


def _close_together(
    chunk: InvoiceRunChunk, position: int, ids: list[int], works: list[Work], contracts: dict[int, Contract]
) -> None:
    """Contracts with one period each (`works`; the others of `ids` have none), closed in one transaction with
    their progress (billing/services/batch_close.py). If the batch cannot be written (another run made one of
    its invoices meanwhile), nothing of it is kept and its contracts are closed one by one, which names the
    one in the way."""
    run = chunk.run
    try:
        with transaction.atomic():
            results = invoices_close_many(works, as_of=run.as_of, actor=run.started_by)
            outcome = _Outcome()
            for pk in ids:
                outcome.add(pk, results.get(pk, Result()))
            _record(chunk, position + len(ids), outcome, contracts=len(ids))
        return
    except Exception as exc:  # a conflict, or a bug in one contract: the one-by-one path isolates it
        logger.warning("invoice run %s: closing %s contracts together failed (%r); one by one", run.pk, len(ids), exc)
    existing = _existing_invoices(ids)  # read again: the batch's own were rolled back, another's are there
    for offset, pk in enumerate(ids, start=1):
        _close_one(chunk, position + offset, contracts[pk], pk, existing.get(pk, {}))


def _existing_invoices(contract_ids: list[int]) -> dict[int, dict[dt.date, tuple[int, str]]]:
    """Per contract, the id and status of each period's invoice: one query for the whole chunk."""
    found: dict[int, dict[dt.date, tuple[int, str]]] = {}
    rows = Invoice.objects.filter(contract_id__in=contract_ids, kind=InvoiceKind.PERIOD).values_list(
        "contract_id", "period_start", "pk", "status"
    )
    for contract_id, period_start, pk, status in rows:
        found.setdefault(contract_id, {})[period_start] = (pk, status)
    return found


def _close_one(chunk: InvoiceRunChunk, position: int, contract: Contract | None, contract_id: int, existing) -> None:
    """The contract's invoices and the progress they make are one transaction: a crash loses both or neither."""
    run = chunk.run
    try:
        with transaction.atomic():
            if contract is None:
                outcome = _Outcome(
                    failures=[{"contract": contract_id, "code": "not_found", "message": "no such contract"}]
                )
            else:
                outcome = _close_contract(contract, as_of=run.as_of, actor=run.started_by, existing=existing)
            _record(chunk, position, outcome)
    except Exception as exc:  # a bug must not stop the run: the contract is named and the others go on
        logger.exception("invoice run %s: contract %s failed", run.pk, contract_id)
        failure = {"contract": contract_id, "code": "error", "message": f"{type(exc).__name__}: {exc}"}
        with transaction.atomic():
            _record(chunk, position, _Outcome(failures=[failure]))


def _close_contract(contract: Contract, *, as_of: dt.datetime, actor, existing: dict) -> _Outcome:
    """Invoice the contract's ended periods in order, stopping at the first that fails (the ones before it are
    kept). A draft still in its grace is (re)computed; one past it is finalized, which computes it, so an
    invoice is computed once per run, not twice."""
    outcome = _Outcome()
    for work in _due(contract, as_of, existing):
        try:
            if not work.finalize:
                invoice_compute(contract=contract, period=work.period, as_of=as_of, actor=actor)
            else:
                with transaction.atomic():  # a draft that could not be finalized is not left behind empty
                    if work.invoice_id is not None:
                        invoice = Invoice(pk=work.invoice_id)
                    else:
                        invoice = new_invoice(contract, work.period)
                        invoice.save()
                    invoice_finalize(invoice=invoice, as_of=as_of, actor=actor)
                outcome.finalized += 1
        except DomainError as exc:
            outcome.failures.append(_failure(contract.pk, exc))
            break
        except IntegrityError:  # another run made this period's invoice meanwhile: that run closes it
            message = f"another run made the invoice of {work.period.start} meanwhile; the next run finishes it"
            outcome.failures.append({"contract": contract.pk, "code": "conflict", "message": message})
            break
        outcome.created += work.invoice_id is None
    return outcome


def _append(failures: list[dict]) -> CombinedExpression:
    return CombinedExpression(F("failures"), "||", Value(failures, output_field=models.JSONField()))


def _record(chunk: InvoiceRunChunk, position: int, outcome: _Outcome, *, contracts: int = 1) -> None:
    """Contracts done: the chunk's position and the run's counters move together (in the caller's
    transaction)."""
    now = clock.now()
    InvoiceRunChunk.objects.filter(pk=chunk.pk).update(position=position, heartbeat_at=now)
    _count(chunk.run_id, outcome, contracts=contracts, now=now)
    chunk.position = position


def _count(run_id: int, outcome: _Outcome, *, contracts: int = 0, now: dt.datetime | None = None) -> None:
    """The run's counters raised by `outcome` (F() updates: concurrent chunks add up)."""
    changes = {
        "contracts_done": F("contracts_done") + contracts,
        "invoices_created": F("invoices_created") + outcome.created,
        "invoices_made": F("invoices_made") + outcome.finalized,
        "updated_at": now or clock.now(),
    }
    if outcome.failures:
        changes["failures"] = _append(outcome.failures)
    InvoiceRun.objects.filter(pk=run_id).update(**changes)


def _chunk_end(chunk: InvoiceRunChunk, *, status: str, error: str = "") -> None:
    """The chunk is over; the last one to end closes the run (failed if any chunk failed)."""
    now = clock.now()
    with transaction.atomic():
        InvoiceRunChunk.objects.filter(pk=chunk.pk).update(
            status=status, finished_at=now, heartbeat_at=now, error=error
        )
        InvoiceRun.objects.filter(pk=chunk.run_id).update(chunks_done=F("chunks_done") + 1, updated_at=now)
        last = InvoiceRun.objects.select_for_update().get(pk=chunk.run_id)
        if last.status == RunStatus.RUNNING and last.chunks_done >= last.chunks_total:
            failed = last.chunks.filter(status=ChunkStatus.FAILED).exists()
            last.status = RunStatus.FAILED if failed else RunStatus.FINISHED
            last.finished_at = now
            last.save(update_fields=["status", "finished_at"])
    chunk.status = status


def invoice_run_resume(*, run: InvoiceRun, now: dt.datetime, stale_after: dt.timedelta = STALE_AFTER) -> list[int]:
    """Queue again the chunks of `run` that are not done: failed ones, running ones whose worker stopped beating,
    and pending ones if the run made no progress for `stale_after` (lost messages). The run is running again
    until they end. Returns the chunk ids queued."""
    with transaction.atomic():
        run = InvoiceRun.objects.select_for_update().get(pk=run.pk)
        stalled = Q(status=ChunkStatus.FAILED) | Q(status=ChunkStatus.RUNNING, heartbeat_at__lt=now - stale_after)
        # Pending chunks wait their turn in the queue; only when the whole run has not moved for a while are
        # their messages taken to be lost (a duplicate message is harmless: the chunk is claimed once).
        if run.updated_at is None or run.updated_at < now - stale_after:
            stalled |= Q(status=ChunkStatus.PENDING, queued_at__lt=now - stale_after)
        chunks = list(run.chunks.select_for_update().filter(stalled).order_by("number"))
        if not chunks:
            if run.status != RunStatus.RUNNING and run.chunks.exclude(status=ChunkStatus.DONE).exists():
                raise Conflict(f"{run} has chunks still in progress", code="run_in_progress")
            return []
        reopened = sum(1 for c in chunks if c.status == ChunkStatus.FAILED)
        for chunk in chunks:
            chunk.status = ChunkStatus.PENDING
            chunk.queued_at = now
            chunk.heartbeat_at = None
        InvoiceRunChunk.objects.bulk_update(chunks, ["status", "queued_at", "heartbeat_at"])
        run.chunks_done -= reopened
        run.status = RunStatus.RUNNING
        run.finished_at = None
        run.updated_at = now
        run.save(update_fields=["chunks_done", "status", "finished_at", "updated_at"])
        ids = [c.pk for c in chunks]
        transaction.on_commit(lambda: _queue(ids))
    return ids


def invoice_runs_sweep(*, now: dt.datetime, stale_after: dt.timedelta = STALE_AFTER) -> list[int]:
    """Pick up the chunks that died (their worker stopped beating) or whose message was lost, in every run
    still running. What beat calls every few minutes. Returns the chunk ids queued again."""
    queued: list[int] = []
    for run in InvoiceRun.objects.filter(status=RunStatus.RUNNING):
        queued += invoice_run_resume(run=run, now=now, stale_after=stale_after)
    return queued
