"""Credit notes: the correction of a finalized invoice, which itself never changes.

A credit note credits a whole invoice or some of its lines, with a reason, and is numbered in its
own gapless series (CN-2026-000001). What a line can still be credited is its amount less what
earlier credit notes took from it, so a line is never credited twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from revops.fields import AmountField


class CreditNote(models.Model):
    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=32, unique=True)
    reason = models.TextField()
    total = AmountField(help_text="positive: what is owed back to the customer")
    currency = models.CharField(max_length=3)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        app_label = "billing"
        ordering = ["-issued_at", "pk"]
        constraints = [models.CheckConstraint(condition=models.Q(total__gt=0), name="creditnote_total_positive")]

    def __str__(self) -> str:
        return self.number


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    invoice_line = models.ForeignKey("billing.InvoiceLine", on_delete=models.PROTECT, related_name="credits")
    description = models.CharField(max_length=300)
    amount = AmountField(help_text="positive: the part of the invoice line credited")

    class Meta:
        app_label = "billing"
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="creditnoteline_positive")]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"
