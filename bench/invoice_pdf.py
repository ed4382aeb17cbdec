"""bench/invoice_pdf: time to render one invoice PDF (mean, p95), for invoices of ~12 lines. Target: <= 200 ms.

    .venv/bin/python bench/invoice_pdf.py [--invoices 50] [--lines 12] [--keep out.pdf]

Uses its own database (`revops_bench_pdf`) and a throwaway MEDIA_ROOT. Builds one customer and contract
through the services, then `--invoices` finalized invoices whose frozen lines are written directly (usage
lines with tier breakdowns, seats with a discount line, a commitment and a credit applied, VAT), and times
`render_invoice_pdf` on each (wall and CPU time); the first render (fonts loading) is timed apart as the warm-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

DB_NAME = "revops_bench_pdf"
MODELS = ["lumen-small", "lumen-large", "lumen-vision", "lumen-embed"]


def setup_catalog():
    """A customer with a contract on a one-price rate card (the invoices' lines are written directly)."""
    from catalog.models import Product
    from catalog.services import metrics, products, rate_cards
    from contracts.models import Contract, Customer
    from contracts.services import contracts as svc

    customer = Customer.objects.filter(external_id="bench-pdf").first()
    if customer is not None:  # a later run: a new contract, since the earlier run's invoices are frozen
        first = Contract.objects.filter(customer=customer).first()
        contract = svc.contract_create(
            customer=customer, rate_card=first.rate_card, start_date=dt.date(2026, 1, 1), actor=None, subscriptions=[]
        )
        return contract, {p.code: p for p in Product.objects.filter(code__in=["seat", "tokens", "support"])}
    metric = metrics.metric_create(
        code="tokens", name="AI tokens", event_type="llm.completion", aggregation="sum", property="tokens",
        group_by=["model"], unit_label="tokens", actor=None,
    )  # fmt: skip
    made = {
        "seat": products.product_create(code="seat", name="Platform seats", kind="subscription", actor=None),
        "tokens": products.product_create(code="tokens", name="AI tokens", kind="usage", metric=metric, actor=None),
        "support": products.product_create(code="support", name="Premium support", kind="recurring_fee", actor=None),
    }
    card = rate_cards.rate_card_create(code="bench-pdf", name="Bench PDF", currency="USD", actor=None)
    version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 1, 1), actor=None)
    rate_cards.price_set(
        version=version, product=made["seat"], values={"model": "per_unit", "unit_price": D(40)}, actor=None
    )
    rate_cards.rate_card_version_activate(version=version, actor=None, as_of=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    customer = Customer.objects.create(
        external_id="bench-pdf",
        name="Northwind Analytics GmbH",
        currency="USD",
        billing_email="ap@northwind.example",
        billing_address="Attn: Accounts Payable\nFriedrichstraße 123\n10117 Berlin\nGermany",
        tax_id="DE 123456789",
        timezone="Europe/Berlin",
    )
    contract = svc.contract_create(
        customer=customer, rate_card=card, start_date=dt.date(2026, 1, 1), actor=None, subscriptions=[]
    )
    return contract, made


def tiers(total: int, price_1: str, price_2: str) -> tuple[list[dict], D, D]:
    first = min(total, 1_000_000)
    rest = total - first
    rows = [("First 1,000,000 tokens", first, D(price_1)), ("Above 1,000,000 tokens", rest, D(price_2))]
    breakdown, amount = [], D(0)
    for tier, (description, qty, unit) in enumerate(rows, start=1):
        part = (qty * unit).quantize(D("0.01"))
        amount += part
        breakdown.append(
            {"description": description, "quantity": str(qty), "unit_price": str(unit), "flat_fee": "0",
             "amount": str(part), "tier": tier}
        )  # fmt: skip
    return breakdown, amount, (amount / total if total else D(0))


def make_invoice(contract, made, index: int, n_lines: int = 12, status: str = "finalized"):
    """A finalized invoice with `n_lines` frozen lines: seats, support, usage by model with tiers, then balances."""
    from billing.models import Invoice, InvoiceLine

    start = dt.date(2000 + index // 12, index % 12 + 1, 1)
    end = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    invoice = Invoice.objects.create(
        contract=contract, customer=contract.customer, period_start=start, period_end=end, currency="USD"
    )
    specs = [
        ("subscription", made["seat"], "Platform seats", "", D(25), D(40), D(1000), []),
        ("discount", made["seat"], "Platform seats: 10% contract discount", "", None, None, D(-100), []),
        ("subscription", made["support"], "Premium support (monthly)", "", None, None, D(500), []),
    ]
    usage_lines = max(n_lines - 4, 1)
    for i in range(usage_lines):
        model = MODELS[i % len(MODELS)]
        kind = "input" if i % 2 == 0 else "output"
        total = 400_000 + 700_000 * (i + index % 5)
        breakdown, amount, _ = tiers(total, "0.000002", "0.0000015")
        specs.append(
            ("usage", made["tokens"], f"AI tokens — {model} ({kind})", f"model: {model}", D(total), None, amount,
             breakdown)
        )  # fmt: skip
    charges = sum(s[6] for s in specs)
    commit, credit = (charges * D("0.4")).quantize(D("0.01")), D("50.00")
    lines = [
        InvoiceLine(
            invoice=invoice,
            position=pos,
            kind=kind,
            product=product,
            description=desc,
            group=group,
            quantity=qty,
            unit_price=unit,
            amount=amount,
            breakdown=breakdown,
            service_start=start,
            service_end=end,
        )
        for pos, (kind, product, desc, group, qty, unit, amount, breakdown) in enumerate(specs, start=1)
    ]
    lines.append(
        InvoiceLine(invoice=invoice, position=len(lines) + 1, kind="commit", amount=-commit,
                    description="Prepaid commitment applied: 2026 annual commit", service_start=start, service_end=end)
    )  # fmt: skip
    lines.append(
        InvoiceLine(invoice=invoice, position=len(lines) + 1, kind="credit", amount=-credit,
                    description="Credit applied: onboarding credit", service_start=start, service_end=end)
    )  # fmt: skip
    base = charges - commit - credit
    tax = (base * D("0.19")).quantize(D("0.01"))
    lines.append(
        InvoiceLine(invoice=invoice, position=len(lines) + 1, kind="tax", amount=tax, description="VAT (DE) 19%",
                    tax_percent=D(19), taxable_base=base, service_start=start, service_end=end)
    )  # fmt: skip
    InvoiceLine.objects.bulk_create(lines)
    finalized_at = dt.datetime.combine(end, dt.time(9), tzinfo=dt.UTC)
    invoice.subtotal, invoice.tax_total, invoice.total = charges, tax, base + tax
    invoice.status, invoice.series, invoice.number = "finalized", "INV-BENCH", f"INV-B{contract.pk}-{index + 1:06d}"
    invoice.finalized_at, invoice.due_date = finalized_at, end + dt.timedelta(days=30)
    invoice.save()
    if status == "paid":
        Invoice.objects.filter(pk=invoice.pk).update(
            status="paid", paid_at=finalized_at + dt.timedelta(days=12), payment_reference="SEPA-4471-0932"
        )
    elif status == "void":
        Invoice.objects.filter(pk=invoice.pk).update(
            status="void", voided_at=finalized_at + dt.timedelta(days=2), void_reason="issued to the wrong entity"
        )
    invoice.refresh_from_db()
    return invoice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=50)
    parser.add_argument("--lines", type=int, default=12)
    parser.add_argument("--keep", help="also write the first invoice's PDF here")
    args = parser.parse_args()

    os.environ["REVOPS_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="revops-bench-pdf-")
    common.setup_django(DB_NAME)
    from django.core.management import call_command
    from django.db import transaction

    from billing.pdf import render_invoice_pdf

    call_command("migrate", verbosity=0)
    with transaction.atomic():
        contract, made = setup_catalog()
    invoices = [make_invoice(contract, made, i, args.lines) for i in range(args.invoices)]

    started = time.perf_counter()
    first = render_invoice_pdf(invoices[0])
    warmup = time.perf_counter() - started
    if args.keep:
        Path(args.keep).write_bytes(first)
    times, cpu, sizes = [], [], []
    for invoice in invoices:
        started, started_cpu = time.perf_counter(), time.process_time()
        pdf = render_invoice_pdf(invoice)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)  # the CPU is shared: wall time alone overstates
        sizes.append(len(pdf))
    times.sort()
    cpu.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    common.report(
        f"invoice PDF rendering: {len(invoices)} invoices, {args.lines} lines each (target <= 200 ms)",
        [
            ("first render (warm-up)", f"{warmup * 1000:.0f} ms"),
            ("mean", f"{statistics.mean(times) * 1000:.0f} ms"),
            ("p50", f"{statistics.median(times) * 1000:.0f} ms"),
            ("p95", f"{p95 * 1000:.0f} ms"),
            ("max", f"{times[-1] * 1000:.0f} ms"),
            ("CPU per render (mean)", f"{statistics.mean(cpu) * 1000:.0f} ms"),
            ("CPU per render (p95)", f"{cpu[min(len(cpu) - 1, round(0.95 * len(cpu)) - 1)] * 1000:.0f} ms"),
            ("PDF size (mean)", f"{statistics.mean(sizes) / 1024:.0f} KiB"),
            ("target met", "yes" if p95 <= 0.2 else "NO"),
        ],
    )


if __name__ == "__main__":
    main()
