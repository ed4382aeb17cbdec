"""Invoices: compute a contract's period as a draft, finalize (number and freeze), void, mark paid.

A draft is recomputed from the contract and the measured usage whenever asked (late usage lands
there). Finalizing recomputes it one last time inside the transaction, draws commitments and credits
down for real (ledger entries, row-locked), takes the next number of its series from a locked
counter, and freezes it (the database refuses later changes; see migrations). A zero-total invoice
is kept and marked but never numbered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from billing.models import Invoice, InvoiceCounter, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from billing.revenue.schedules import revenue_schedule_create
from billing.webhooks.services import webhook_emit
from catalog.models import Product, ProductKind
from contracts.models import Balance, BalanceKind, Contract
from contracts.prefetch import batch_for
from contracts.selectors import PreviewLine, contract_ended_by, contract_preview
from contracts.services import balances as balance_services
from revops.errors import Conflict, ValidationError
from revops.history import stamp
from revops.money import ZERO, plain, round_amount
from revops.periods import Period, period_bounds_utc
from usage.selectors import contract_usage_quantities, late_events_exist

_KIND_OF_PRODUCT = {
    ProductKind.USAGE: LineKind.USAGE,
    ProductKind.SUBSCRIPTION: LineKind.SUBSCRIPTION,
    ProductKind.RECURRING_FEE: LineKind.SUBSCRIPTION,
    ProductKind.ONE_TIME: LineKind.ONE_TIME,
}


@dataclass
class LineDraft:
    kind: str
    description: str
    amount: Decimal
    product: Product | None = None
    group: str = ""
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    breakdown: list | None = None
    service_start: dt.date | None = None
    service_end: dt.date | None = None
    balance: Balance | None = None
    pricing_model: str = ""
    tax_rate: object | None = None  # billing.TaxRate, on tax lines
    tax_percent: Decimal | None = None
    taxable_base: Decimal | None = None


def breakdown_of(rated) -> list[dict]:
    """A rated line's tier breakdown as an invoice line stores it."""
    return [
        {
            "description": b.description,
            "quantity": plain(b.quantity),
            "unit_price": plain(b.unit_price),
            "flat_fee": plain(b.flat_fee),
            "amount": plain(b.amount),
            "tier": b.tier,
        }
        for b in rated.breakdown
    ]


def preview_draft(line: PreviewLine, period: Period) -> LineDraft:
    """A line of the contract's preview as an invoice line; a fee carries the stretch it pays for."""
    rated = line.line
    return LineDraft(
        kind=_KIND_OF_PRODUCT[line.product.kind] if line.product else LineKind.MINIMUM,
        description=line.description,
        amount=line.amount,
        product=line.product,
        group=(rated.group or "") if rated else "",
        pricing_model=("dimensional" if rated.group is not None else rated.model) if rated else "",
        quantity=rated.quantity if rated else None,
        unit_price=rated.unit_price if rated else None,
        breakdown=breakdown_of(rated) if rated else [],
        service_start=line.service_start or period.start,
        service_end=line.service_end or period.end,
    )


def _charges(contract: Contract, period: Period) -> list[LineDraft]:
    """What the invoice closing `period` bills before commitments and credits: the period's usage and the fees
    not billed in advance (each fee settled against what earlier invoices billed of it), the minimum true-up,
    then the next period's fees billed in advance, commitments bought, late-usage corrections."""
    from billing.services import fees, lines  # they import this module: loaded late

    # A period after the contract's end is closed only to give back fees billed in advance for it: the
    # customer's usage then is not this contract's.
    usage = {} if contract_ended_by(contract, period.start) else contract_usage_quantities(contract, period)
    drafts = [preview_draft(line, period) for line in contract_preview(contract=contract, period=period, usage=usage)]
    drafts = lines.charge_lines(contract, period, usage, drafts)
    drafts = fees.settle(
        contract, period, drafts, fees.billed_for(contract, period, making=(InvoiceKind.PERIOD, period))
    )
    following = fees.next_period(contract, period)
    return (
        drafts
        + fees.fees_ahead(contract, period, following)
        + commit_purchases(contract, period, until=(following or period).end)
        + _late_usage_corrections(contract, period)
    )


def _late_usage_corrections(contract: Contract, period: Period) -> list[LineDraft]:
    """Usage that arrived after an earlier period was finalized, billed as corrections on this invoice.

    For each earlier finalized period that received late events, its usage is priced again as it
    stands now; the correction is the new amount less what its invoice and earlier corrections billed.
    Only periods that can still receive events (inside the accepted event window) are looked at.
    """
    window = _late_window()
    batch = batch_for(contract)
    in_batch = batch and batch.for_period(contract.pk, period, "billing.earlier_invoices", _earlier_of_batch)
    if in_batch is not None:
        earlier = [i for i in in_batch.get(contract.pk, []) if period.start - window <= i.period_end <= period.start]
    else:
        earlier = Invoice.objects.filter(
            contract=contract,
            kind=InvoiceKind.PERIOD,
            status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.PAID],
            period_end__lte=period.start,
            period_end__gte=period.start - window,
        ).order_by("period_start")
    corrections = []
    for invoice in earlier:
        old = Period(invoice.period_start, invoice.period_end)
        starts_at, ends_at = period_bounds_utc(old, contract.customer.timezone)
        if not late_events_exist(
            customer_id=contract.customer_id, start=starts_at, end=ends_at, since=invoice.finalized_at
        ):
            continue
        now_amounts: dict[int, Decimal] = {}
        pricing_models: dict[int, str] = {}
        for line in contract_preview(contract=contract, period=old, usage=contract_usage_quantities(contract, old)):
            if line.product is not None and line.product.metric_id:
                now_amounts[line.product.pk] = now_amounts.get(line.product.pk, ZERO) + line.amount
                if line.line is not None:  # a correction is priced as its usage is now
                    pricing_models[line.product.pk] = "dimensional" if line.line.group is not None else line.line.model
        billed: dict[int, Decimal] = {}
        # A usage line's discount is billed apart from it (on the usage product): both make what was billed.
        for line in InvoiceLine.objects.filter(
            invoice=invoice, kind__in=[LineKind.USAGE, LineKind.DISCOUNT], product__metric__isnull=False
        ):
            billed[line.product_id] = billed.get(line.product_id, ZERO) + line.amount
            if line.pricing_model:  # a product no longer priced is corrected under the model it was billed at
                pricing_models.setdefault(line.product_id, line.pricing_model)
        for line in InvoiceLine.objects.filter(
            kind=LineKind.CORRECTION,
            invoice__contract=contract,
            service_start=old.start,
            invoice__status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.PAID],
        ):
            billed[line.product_id] = billed.get(line.product_id, ZERO) + line.amount
        products = {p.pk: p for p in Product.objects.filter(pk__in=set(now_amounts) | set(billed))}
        for product_id in sorted(products):
            difference = now_amounts.get(product_id, ZERO) - billed.get(product_id, ZERO)
            if difference:
                corrections.append(
                    LineDraft(
                        kind=LineKind.CORRECTION,
                        description=f"Late usage: {products[product_id].name}, {old.start} to {old.end} "
                        f"(invoice {invoice.number or invoice.pk})",
                        amount=difference,
                        product=products[product_id],
                        pricing_model=pricing_models.get(product_id, ""),
                        service_start=old.start,
                        service_end=old.end,
                    )
                )
    return corrections


def _late_window() -> dt.timedelta:
    return dt.timedelta(days=settings.REVOPS_EVENT_MAX_AGE_DAYS + 1)


def _earlier_of_batch(batch) -> dict[int, list[Invoice]]:
    """The finalized period invoices of a period close's contracts that late usage may still correct, for
    all of them at once: contract id -> invoices by period."""
    since = min(p.start for p in batch.periods.values()) - _late_window()
    found: dict[int, list[Invoice]] = {}
    rows = Invoice.objects.filter(
        contract_id__in=list(batch.periods),
        kind=InvoiceKind.PERIOD,
        status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.PAID],
        period_end__gte=since,
    ).order_by("period_start", "pk")
    for invoice in rows:
        found.setdefault(invoice.contract_id, []).append(invoice)
    return found


def _unbilled_purchases(contract_ids) -> QuerySet[Balance]:
    """The contracts' prepaid commitments no invoice that is no longer a draft has billed (a rollover is money
    already paid for), in the order they were granted."""
    billed = InvoiceLine.objects.filter(kind=LineKind.COMMIT_PURCHASE, invoice__contract_id__in=contract_ids).exclude(
        invoice__status=InvoiceStatus.DRAFT
    )
    return (
        Balance.objects.filter(kind=BalanceKind.COMMIT, rolled_over_from__isnull=True, contract_id__in=contract_ids)
        .exclude(pk__in=billed.values("balance_id"))
        .order_by("pk")
    )


def _purchases_of_batch(batch) -> dict[int, list[Balance]]:
    """A period close's unbilled commitments starting in or after its earliest period, per contract."""
    since = min(p.start for p in batch.periods.values())
    found: dict[int, list[Balance]] = {}
    for commit in _unbilled_purchases(list(batch.periods)).filter(starts_on__gte=since):
        found.setdefault(commit.contract_id, []).append(commit)
    return found


def commit_purchases(contract: Contract, period: Period, *, until: dt.date) -> list[LineDraft]:
    """Prepaid commitments are invoiced up front: those whose access starts from `period` on and before `until`
    (the end of the period the invoice bills in advance), unless an invoice that is no longer a draft has
    billed them already."""
    if (batch := batch_for(contract)) and not batch.has_balances(contract.pk):
        return []
    in_batch = batch and batch.for_period(contract.pk, period, "billing.commit_purchases", _purchases_of_batch)
    if in_batch is not None:
        purchases = [b for b in in_batch.get(contract.pk, []) if period.start <= b.starts_on < until]
    else:
        purchases = _unbilled_purchases([contract.pk]).filter(starts_on__gte=period.start, starts_on__lt=until)
    lines = []
    for commit in purchases:
        lines.append(
            LineDraft(
                kind=LineKind.COMMIT_PURCHASE,
                description=f"Prepaid commitment{': ' + commit.name if commit.name else ''} "
                f"(usable {commit.starts_on:%d %b %Y} to {commit.expires_on - dt.timedelta(days=1):%d %b %Y})",
                amount=round_amount(commit.amount, contract.currency),
                balance=commit,
                service_start=commit.starts_on,
                service_end=commit.expires_on,
            )
        )
    return lines


def _balance_label(balance: Balance) -> str:
    label = f"{balance.get_kind_display()} applied"
    if balance.name:
        label += f": {balance.name}"
    return f"{label} (usable until {balance.expires_on - dt.timedelta(days=1):%d %b %Y})"


def _scoped_products(contract: Contract, batch) -> list[int]:
    """The products the contract's credits are scoped to, in order (read once for a period close's batch)."""
    if batch is None:
        scoped = _scoped_of([contract.pk])
    else:
        scoped = batch.remember("billing.scoped_products", lambda: _scoped_of(batch.contract_ids))
    return sorted(scoped.get(contract.pk, ()))


def _scoped_of(contract_ids) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    rows = Balance.objects.filter(contract_id__in=contract_ids, product__isnull=False)
    for contract_id, product_id in rows.values_list("contract_id", "product_id"):
        found.setdefault(contract_id, set()).add(product_id)
    return found


def _apply_balances(
    contract: Contract,
    period: Period,
    charges: list[LineDraft],
    *,
    draw: bool,
    as_of: dt.datetime,
    actor,
    reference: str,
) -> list[LineDraft]:
    """Negative lines for the commitments and credits that pay this invoice.

    Credits scoped to a product pay that product's lines first; then the contract-wide balances pay what
    is left, soonest expiry first. With `draw`, the draw-downs are written to the ledger (under row
    locks); otherwise they are simulated from what the balances hold now (a draft).
    """
    if (batch := batch_for(contract)) and not batch.has_balances(contract.pk):
        return []
    on = period.end - dt.timedelta(days=1)
    applied: list[LineDraft] = []
    by_product: dict[int, Decimal] = {}
    for charge in charges:
        if charge.product is not None and charge.amount > 0:
            by_product[charge.product.pk] = by_product.get(charge.product.pk, ZERO) + charge.amount
    # A commitment's purchase is paid in money, not with balances.
    left = sum((c.amount for c in charges if c.kind != LineKind.COMMIT_PURCHASE), ZERO)

    def take(amount: Decimal, product: Product | None) -> Decimal:
        if amount <= 0:
            return ZERO
        scoped_only = product is not None
        if draw:
            result = balance_services.balance_draw_down(
                contract=contract,
                amount=amount,
                on=on,
                as_of=as_of,
                actor=actor,
                product=product,
                scoped_only=scoped_only,
                reference=reference,
            )
            pairs = [(entry.balance, -entry.amount) for entry in result.entries]
        else:
            pairs, wanted = [], amount
            for balance, holds in balance_services.balances_usable(
                contract=contract, on=on, product=product, scoped_only=scoped_only
            ):
                portion = min(wanted, holds)
                if portion > 0:
                    pairs.append((balance, portion))
                    wanted -= portion
        total = ZERO
        for balance, portion in pairs:
            kind = LineKind.COMMIT if balance.kind == BalanceKind.COMMIT else LineKind.CREDIT
            applied.append(
                LineDraft(
                    kind=kind,
                    description=_balance_label(balance),
                    amount=-portion,
                    balance=balance,
                    service_start=period.start,
                    service_end=period.end,
                )
            )
            total += portion
        return total

    products = {c.product.pk: c.product for c in charges if c.product is not None}
    for product_id in _scoped_products(contract, batch):
        if product_id in by_product:
            left -= take(min(by_product[product_id], left), products[product_id])
    left -= take(left, None)
    return applied


def new_invoice(contract: Contract, period: Period, kind: str = InvoiceKind.PERIOD) -> Invoice:
    """An unsaved draft invoice of the contract for the period."""
    return Invoice(
        contract=contract,
        customer=contract.customer,
        kind=kind,
        period_start=period.start,
        period_end=period.end,
        currency=contract.currency,
    )


def line_rows(invoice: Invoice, drafts: list[LineDraft]) -> list[InvoiceLine]:
    """The invoice's lines as rows to store, numbered from 1 in the drafts' order."""
    return [
        InvoiceLine(
            invoice=invoice,
            position=index,
            kind=d.kind,
            product=d.product,
            description=d.description[:300],
            group=d.group,
            quantity=d.quantity,
            unit_price=d.unit_price,
            amount=d.amount,
            breakdown=d.breakdown or [],
            service_start=d.service_start,
            service_end=d.service_end,
            balance=d.balance,
            pricing_model=d.pricing_model,
            tax_rate=d.tax_rate,
            tax_percent=d.tax_percent,
            taxable_base=d.taxable_base,
        )
        for index, d in enumerate(drafts, start=1)
    ]


def set_totals(invoice: Invoice, drafts: list[LineDraft], *, as_of: dt.datetime) -> Invoice:
    """Subtotal (the charges), tax total and total from the drafts; the invoice is computed as of `as_of`."""
    charges = sum((d.amount for d in drafts if d.kind not in (LineKind.COMMIT, LineKind.CREDIT, LineKind.TAX)), ZERO)
    invoice.subtotal = charges
    invoice.tax_total = sum((d.amount for d in drafts if d.kind == LineKind.TAX), ZERO)
    invoice.total = sum((d.amount for d in drafts), ZERO)
    invoice.computed_at = as_of
    return invoice


def _write(invoice: Invoice, drafts: list[LineDraft], *, as_of: dt.datetime) -> Invoice:
    if invoice.computed_at is not None:  # never computed: no lines to clear (saves queries in a period close)
        invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(line_rows(invoice, drafts))
    return set_totals(invoice, drafts, as_of=as_of)


def _taxes(contract: Contract, period: Period, drafts: list[LineDraft]) -> list[LineDraft]:
    from billing.services.taxes import invoice_tax_lines  # imports this module: loaded late

    return invoice_tax_lines(contract=contract, period=period, drafts=drafts)


def invoice_drafts(
    contract: Contract, period: Period, *, draw: bool, as_of: dt.datetime, actor, reference: str = ""
) -> list[LineDraft]:
    """Every line of the period's invoice, in order: the charges, the commitments and credits that pay them
    (drawn down for real with `draw`, under `reference`), then the taxes. Draft, final and batch-closed
    invoices all come from here."""
    charges = _charges(contract, period)
    drafts = charges + _apply_balances(
        contract, period, charges, draw=draw, as_of=as_of, actor=actor, reference=reference
    )
    return drafts + _taxes(contract, period, drafts)


def _lock_or_create(contract: Contract, period: Period) -> Invoice:
    try:
        with transaction.atomic():
            Invoice.objects.get_or_create(
                contract=contract,
                kind=InvoiceKind.PERIOD,
                period_start=period.start,
                defaults={"customer": contract.customer, "period_end": period.end, "currency": contract.currency},
            )
    except IntegrityError:  # another run made it at the same moment
        pass
    return Invoice.objects.select_for_update().get(
        contract=contract, kind=InvoiceKind.PERIOD, period_start=period.start
    )


@transaction.atomic
def invoice_compute(
    *, contract: Contract, period: Period, as_of: dt.datetime, actor: AbstractBaseUser | None = None
) -> Invoice:
    """The draft invoice of `contract` for `period`, made or recomputed. Idempotent: one invoice per contract
    and period (the database enforces it); a finalized one is returned untouched."""
    invoice = _lock_or_create(contract, period)
    if invoice.status != InvoiceStatus.DRAFT:
        return invoice
    _write(invoice, invoice_drafts(contract, period, draw=False, as_of=as_of, actor=actor), as_of=as_of)
    stamp(invoice, actor=actor, reason="computed")
    invoice.save()
    return invoice


@transaction.atomic
def invoice_recompute(*, invoice: Invoice, as_of: dt.datetime, actor: AbstractBaseUser | None = None) -> Invoice:
    """Compute a draft again (late usage, changed terms). Anything but a draft is refused."""
    invoice = Invoice.objects.select_for_update().select_related("contract").get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.DRAFT:
        raise Conflict(f"invoice {invoice} is {invoice.status}; only a draft can be recomputed", code="not_draft")
    return invoice_compute(
        contract=invoice.contract, period=Period(invoice.period_start, invoice.period_end), as_of=as_of, actor=actor
    )


def reserve_numbers(series: str, count: int) -> list[str]:
    """The next `count` numbers of `series`, from its counter locked until the caller's transaction ends:
    a rollback gives them back, so the series stays gapless."""
    counter = InvoiceCounter.objects.select_for_update().filter(series=series).first()
    if counter is None:  # the series' first number
        counter, _ = InvoiceCounter.objects.get_or_create(series=series)
        counter = InvoiceCounter.objects.select_for_update().get(pk=counter.pk)
    first = counter.next_number
    counter.next_number = first + count
    counter.save(update_fields=["next_number"])
    return [f"{series}-{number:06d}" for number in range(first, first + count)]


def _next_number(series: str) -> str:
    return reserve_numbers(series, 1)[0]


def series_of(invoice: Invoice, as_of: dt.datetime) -> str:
    """The numbering series an invoice finalized at `as_of` belongs to: one per year, and a TEST- one for
    customers on a test clock (simulated invoices never take a number of the real gapless series)."""
    prefix = settings.REVOPS_INVOICE_PREFIX
    if invoice.customer.test_clock_id is not None:
        prefix = f"TEST-{prefix}"
    return f"{prefix}-{as_of.year}"


def reference_of(invoice: Invoice) -> str:
    """What a draw-down made for this invoice says in the ledger."""
    return f"invoice {invoice.pk}"


def refuse_negative(invoice: Invoice) -> None:
    """Invoices that only add charges (opening, off-cycle) are never negative: one that is, is a mistake."""
    if invoice.total < 0:
        raise ValidationError("an invoice total cannot be negative; issue a credit note instead", code="negative")


def mark_finalized(invoice: Invoice, *, number: str | None, series: str, as_of: dt.datetime) -> Invoice:
    """The fields finalizing sets (in memory): number and series unless the total is zero, dates, status."""
    invoice.zero_total = invoice.total == 0
    if not invoice.zero_total:
        invoice.series = series
        invoice.number = number
    invoice.status = InvoiceStatus.FINALIZED
    invoice.finalized_at = as_of
    invoice.due_date = as_of.date() + dt.timedelta(days=settings.REVOPS_PAYMENT_TERMS_DAYS)
    return invoice


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, as_of: dt.datetime, actor: AbstractBaseUser | None) -> Invoice:
    """Recompute, draw balances down for real, number (unless the total is zero) and freeze."""
    invoice = Invoice.objects.select_for_update().select_related("contract__customer").get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.DRAFT:
        raise Conflict(f"invoice {invoice} is {invoice.status}; only a draft can be finalized", code="not_draft")
    period = Period(invoice.period_start, invoice.period_end)
    drafts = invoice_drafts(
        invoice.contract, period, draw=True, as_of=as_of, actor=actor, reference=reference_of(invoice)
    )
    # A period invoice may come out negative: fees billed in advance given back (seats removed, the contract
    # ended early) beyond what the period costs. It is finalized as a credit due to the customer.
    _write(invoice, drafts, as_of=as_of)
    return seal(invoice, as_of=as_of, actor=actor, reason="finalized")


def seal(invoice: Invoice, *, as_of: dt.datetime, actor: AbstractBaseUser | None, reason: str) -> Invoice:
    """Finalize a computed invoice: number it (unless its total is zero), freeze it, schedule its revenue,
    render its PDF and tell subscribers. Every kind of invoice (period or off-cycle) ends here."""
    series = series_of(invoice, as_of)
    number = _next_number(series) if invoice.total != 0 else None
    mark_finalized(invoice, number=number, series=series, as_of=as_of)
    stamp(invoice, actor=actor, reason=reason)
    invoice.save()
    revenue_schedule_create(invoice=invoice)
    if invoice.number:  # its PDF is rendered by a worker once the invoice is stored
        transaction.on_commit(lambda: _render_pdf(invoice.pk))
    webhook_emit(event_type="invoice.finalized", data=invoice, as_of=as_of)
    return invoice


def _render_pdf(invoice_id: int) -> None:
    from billing.tasks import render_invoice_pdf

    render_invoice_pdf.delay(invoice_id)


PDFS_PER_MESSAGE = 10


def queue_pdfs(invoice_ids: list[int]) -> None:
    """Once the transaction commits, have the workers render these invoices' PDFs, a few per message."""
    from billing.tasks import render_invoice_pdfs

    def send() -> None:
        for start in range(0, len(invoice_ids), PDFS_PER_MESSAGE):
            render_invoice_pdfs.delay(invoice_ids[start : start + PDFS_PER_MESSAGE])

    if invoice_ids:
        transaction.on_commit(send)


def _rerender_pdf(invoice: Invoice) -> None:
    """A paid or voided invoice gets a new document with its mark; the earlier ones are kept."""
    if invoice.number:
        transaction.on_commit(lambda: _render_pdf(invoice.pk))


@transaction.atomic
def invoice_void(*, invoice: Invoice, reason: str, as_of: dt.datetime, actor: AbstractBaseUser | None) -> Invoice:
    """Cancel a finalized, unpaid invoice. The commitments and credits it used are given back."""
    if not reason.strip():
        raise ValidationError("voiding an invoice needs a reason", field="reason")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.FINALIZED:
        raise Conflict(
            f"invoice {invoice} is {invoice.status}; only a finalized, unpaid one can be voided", code="not_voidable"
        )
    for line in invoice.lines.filter(balance__isnull=False).select_related("balance"):
        balance_services.balance_adjust(
            balance=line.balance,
            amount=-line.amount,
            as_of=as_of,
            actor=actor,
            reason=f"returned: invoice {invoice} voided",
        )
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = as_of
    invoice.void_reason = reason
    stamp(invoice, actor=actor, reason=f"voided: {reason}")
    invoice.save()
    webhook_emit(event_type="invoice.voided", data=invoice, as_of=as_of)
    _rerender_pdf(invoice)
    return invoice


@transaction.atomic
def invoice_mark_paid(
    *, invoice: Invoice, reference: str, as_of: dt.datetime, actor: AbstractBaseUser | None
) -> Invoice:
    if not reference.strip():
        raise ValidationError("a payment needs its reference (e.g. the bank transfer's)", field="reference")
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.FINALIZED or invoice.zero_total:
        raise Conflict(
            f"invoice {invoice} is {invoice.status}; only a finalized invoice with a total can be paid",
            code="not_payable",
        )
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = as_of
    invoice.payment_reference = reference
    stamp(invoice, actor=actor, reason=f"paid: {reference}")
    invoice.save()
    webhook_emit(event_type="invoice.paid", data=invoice, as_of=as_of)
    _rerender_pdf(invoice)
    return invoice


__all__ = ["invoice_compute", "invoice_finalize", "invoice_mark_paid", "invoice_recompute", "invoice_void"]
