"""A revenue schedule: the months an invoice line's amount is recognized in, stored when it is finalized.

Only what is fixed at finalization is stored (the ratable split of a line over its service period).
What happens later is read from its own records when a report asks: a void (the invoice's voided_at),
credit notes (their lines), and a prepaid commitment's release (the invoices its draw-downs paid, and
its ledger's expiry entries). See billing/revenue/recognition.py for the rules.
"""

from __future__ import annotations

from django.db import models

from revops.fields import AmountField


class RevenueEntry(models.Model):
    line = models.ForeignKey("billing.InvoiceLine", on_delete=models.CASCADE, related_name="revenue_entries")
    month = models.DateField(help_text="the first day of the calendar month recognized in")
    amount = AmountField(help_text="in the invoice's currency, rounded to its minor unit")

    class Meta:
        app_label = "billing"
        ordering = ["line", "month"]
        verbose_name = "revenue schedule entry"
        verbose_name_plural = "revenue schedule entries"
        constraints = [
            models.UniqueConstraint(fields=["line", "month"], name="revenueentry_one_per_line_month"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="revenueentry_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.amount}"


class RevenueReport(RevenueEntry):
    """No table of its own: the admin's place for the monthly revenue report under Billing."""

    class Meta:
        proxy = True
        app_label = "billing"
        verbose_name = "revenue report"
        verbose_name_plural = "revenue report"


class MonthEndClose(RevenueEntry):
    """No table of its own: the admin's place for the month-end close summary under Billing."""

    class Meta:
        proxy = True
        app_label = "billing"
        verbose_name = "month-end close"
        verbose_name_plural = "month-end close"
