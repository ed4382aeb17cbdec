"""Invoices and their lines, and the counters that number them.

A period invoice is made for one contract and one billing period (the database allows only one; off-cycle
invoices beside it bill prorated changes at once, see billing/services/proration.py), as a
draft that is recomputed until it is finalized. Finalizing numbers it from a locked counter per
series (gapless: INV-2026-000123) and freezes it: PostgreSQL triggers refuse any change to a
finalized invoice's amounts or lines; only its payment status and a void may still be recorded.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from simple_history.models import HistoricalRecords

from revops.fields import AmountField, CurrencyField, QuantityField, RateField


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    FINALIZED = "finalized", "Finalized"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class InvoiceKind(models.TextChoices):
    PERIOD = "period", "Period invoice"
    OFF_CYCLE = "off_cycle", "Off-cycle (prorated change billed at once)"
    OPENING = "opening", "Opening (the first period's fees, in advance)"


class Invoice(models.Model):
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey("contracts.Customer", on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateField()
    period_end = models.DateField(help_text="exclusive")
    currency = CurrencyField()
    kind = models.CharField(max_length=16, choices=InvoiceKind.choices, default=InvoiceKind.PERIOD)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    series = models.CharField(max_length=16, blank=True)
    number = models.CharField(max_length=32, null=True, blank=True, unique=True)
    subtotal = AmountField(default=0)
    tax_total = AmountField(default=0)
    total = AmountField(default=0)
    zero_total = models.BooleanField(default=False, help_text="kept for the record, never numbered")
    computed_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=128, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-period_start", "pk"]
        constraints = [
            # One period invoice per contract and period; off-cycle invoices for changes inside it may be many.
            models.UniqueConstraint(
                fields=["contract", "period_start"],
                condition=models.Q(kind="period"),
                name="invoice_one_period_invoice_per_contract_period",
            ),
            # The first period's fees are billed in advance once, when the contract starts.
            models.UniqueConstraint(
                fields=["contract"], condition=models.Q(kind="opening"), name="invoice_one_opening_invoice_per_contract"
            ),
            models.CheckConstraint(condition=models.Q(period_end__gt=models.F("period_start")), name="invoice_period"),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(finalized_at__isnull=False),
                name="invoice_finalized_at_set",
            ),
            models.CheckConstraint(
                condition=models.Q(number__isnull=True) | models.Q(zero_total=False), name="invoice_zero_not_numbered"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.contract_id}/{self.period_start}"

    def is_overdue(self, today) -> bool:
        """Finalized with money due, unpaid, past its due date. Derived, never stored: it changes with time."""
        return (
            self.status == InvoiceStatus.FINALIZED
            and not self.zero_total
            and self.due_date is not None
            and today > self.due_date
        )


class LineKind(models.TextChoices):
    SUBSCRIPTION = "subscription", "Subscription fee"
    USAGE = "usage", "Usage"
    MINIMUM = "minimum", "Minimum spend true-up"
    COMMIT_PURCHASE = "commit_purchase", "Prepaid commitment"
    COMMIT = "commit", "Prepaid commitment applied"
    CREDIT = "credit", "Credit applied"
    CORRECTION = "correction", "Late usage correction"
    ONE_TIME = "one_time", "One-time charge"
    DISCOUNT = "discount", "Discount"
    BILLED_OFF_CYCLE = "billed_off_cycle", "Already billed on an off-cycle invoice"
    BILLED_IN_ADVANCE = "billed_in_advance", "Already billed in advance"
    TAX = "tax", "Tax"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=24, choices=LineKind.choices)
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    description = models.CharField(max_length=300)
    group = models.CharField(max_length=128, blank=True)
    quantity = QuantityField(null=True, blank=True)
    unit_price = RateField(null=True, blank=True)
    amount = AmountField(help_text="rounded once, to the currency's minor unit")
    breakdown = models.JSONField(default=list, blank=True)
    pricing_model = models.CharField(
        max_length=16, blank=True, help_text="flat, per_unit, graduated, volume, package, percentage or dimensional"
    )
    service_start = models.DateField(null=True, blank=True)
    service_end = models.DateField(null=True, blank=True)
    balance = models.ForeignKey(
        "contracts.Balance",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="the commitment or credit this line draws from",
    )
    tax_rate = models.ForeignKey(
        "billing.TaxRate", on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="tax lines"
    )
    tax_percent = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    taxable_base = AmountField(null=True, blank=True, help_text="tax lines: the net amount the rate applies to")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoiceline_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class InvoiceCounter(models.Model):
    """The next number of a series. Taken under a row lock when an invoice is finalized: no gaps, no repeats."""

    series = models.CharField(max_length=16, unique=True)
    next_number = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.series}: next {self.next_number}"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class InvoiceRun(models.Model):
    """One period close: its contracts are split into chunks that Celery workers close; the counters here are
    raised atomically (F() updates) as each contract is done, so the admin and the command can follow it."""

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True, help_text="the last progress recorded")
    as_of = models.DateTimeField(help_text="the moment the run closed periods up to")
    contracts_total = models.PositiveIntegerField(default=0)
    contracts_done = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField("invoices made", default=0, help_text="new invoices this run made")
    # The name predates the split into made and finalized; callers read it as the invoices finalized.
    invoices_made = models.PositiveIntegerField(
        "invoices finalized", default=0, help_text="invoices this run finalized"
    )
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"run {self.pk} as of {self.as_of:%Y-%m-%d %H:%M}"

    @property
    def percent_done(self) -> int:
        return 100 if not self.contracts_total else int(100 * self.contracts_done / self.contracts_total)


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class InvoiceRunChunk(models.Model):
    """A slice of a run's contracts, closed by one task. `position` counts the contracts done, recorded in the
    same transaction as each contract's invoices, so a chunk picked up again after a crash goes on from there."""

    run = models.ForeignKey(InvoiceRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    contract_ids = ArrayField(models.BigIntegerField())
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=ChunkStatus.choices, default=ChunkStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="invoicerunchunk_number_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "running", "done", "failed"]), name="invoicerunchunk_status"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} chunk {self.number}"


from billing.credit_notes import CreditNote, CreditNoteLine  # noqa: E402,F401
from billing.documents import InvoiceDocument  # noqa: E402,F401
from billing.revenue.models import MonthEndClose, RevenueEntry, RevenueReport  # noqa: E402,F401
from billing.taxes import TaxRate  # noqa: E402,F401
from billing.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent  # noqa: E402,F401
