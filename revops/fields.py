"""Database field shapes for money and quantities, so every model stores them alike.

Rates (unit prices and the other parts of a price) keep 12 decimal places; amounts
on invoices keep 3 (they are rounded to the currency's minor unit once per line);
quantities keep 12 so fractional usage (GB-hours) is exact.
"""

from django.db import models

from revops.money import AMOUNT_DECIMAL_PLACES, RATE_DECIMAL_PLACES


def RateField(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=30, decimal_places=RATE_DECIMAL_PLACES, **kwargs)


def AmountField(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=24, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs)


def QuantityField(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=32, decimal_places=12, **kwargs)


def CurrencyField(**kwargs) -> models.CharField:
    kwargs.setdefault("help_text", "ISO 4217 code")
    return models.CharField(max_length=3, **kwargs)
