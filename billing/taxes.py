"""Tax rates: a named percentage for a region (DE, US-CA, EU), in effect over a half-open date range.

A region has at most one rate on any day (no overlapping periods; the services refuse them), so the rate
that applies to a line is never a guess. A rate is never edited once invoices used it: end it and start
a new one, and the history keeps both.
"""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class TaxRate(models.Model):
    name = models.CharField(max_length=100, help_text="as printed on invoices, e.g. 'VAT' or 'CA sales tax'")
    rate_percent = models.DecimalField(max_digits=8, decimal_places=4, help_text="e.g. 8.2500")
    region = models.CharField(max_length=16, help_text="ISO 3166 code (DE, US-CA) or EU")
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="exclusive; empty: open-ended")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        app_label = "billing"
        ordering = ["region", "effective_from", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_percent__gte=0, rate_percent__lte=100), name="taxrate_percent_0_100"
            ),
            models.CheckConstraint(
                condition=models.Q(effective_to__isnull=True) | models.Q(effective_to__gt=models.F("effective_from")),
                name="taxrate_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.rate_percent.normalize():f}% ({self.region})"
