"""Customers (and, with the contracts issue, their contracts and terms)."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

external_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$",
    "use 1-128 letters, digits and . _ : @ - (starting with a letter or digit)",
)


class Customer(models.Model):
    """A company that buys from us. `external_id` is the id the product and CRM know it by."""

    external_id = models.CharField(max_length=128, unique=True, validators=[external_id_validator])
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code invoices are issued in")
    billing_email = models.EmailField(blank=True)
    billing_address = models.TextField(blank=True)
    tax_id = models.CharField(max_length=64, blank=True)
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="IANA timezone; billing periods turn at midnight in it"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="customer_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class CustomerAlias(models.Model):
    """Another id a customer's usage events may name it by (a workspace id, an account slug).

    Aliases and external ids share one namespace: an alias never equals another customer's external id.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=128, unique=True, validators=[external_id_validator])
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "customer aliases"
        ordering = ["alias"]

    def __str__(self) -> str:
        return self.alias
