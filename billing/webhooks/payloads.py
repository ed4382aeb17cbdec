"""What an event carries in `data`: the object as the API shows it, or a small stable dict.

The API serializers are imported where they are used: billing's API imports its services, which
emit events, so a module-level import here would go round in a circle.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models

from revops.money import plain


def invoice_data(invoice: models.Model) -> dict[str, Any]:
    """The invoice as GET /invoices/{id} shows it, lines included (each with its pricing model)."""
    return invoices_data([invoice])[0]


def invoices_data(invoices: list[models.Model]) -> list[dict[str, Any]]:
    """`invoice_data` of each, through one list serializer (its fields are built once, not per invoice:
    what a period close's many invoice.finalized events spend most of their time on), and the lines and
    their products read in one query for them all, not one per invoice and line."""
    from billing.api.invoices import InvoiceDetailOutput
    from billing.models import InvoiceLine

    lines = InvoiceLine.objects.select_related("product")
    models.prefetch_related_objects(invoices, models.Prefetch("lines", queryset=lines))
    return [dict(row) for row in InvoiceDetailOutput(invoices, many=True).data]


def credit_note_data(note: models.Model) -> dict[str, Any]:
    from billing.api.credit_notes import CreditNoteOutput

    return dict(CreditNoteOutput(note).data)


def rate_card_version_data(version: models.Model) -> dict[str, Any]:
    from catalog.api.rate_cards import RateCardVersionOutput

    data = dict(RateCardVersionOutput(version).data)
    data["currency"] = version.rate_card.currency
    return data


def commit_low_balance_data(balance: models.Model, *, remaining: Decimal, threshold: Decimal) -> dict[str, Any]:
    contract = balance.contract
    return {
        "balance_id": balance.pk,
        "name": balance.name,
        "contract": contract.pk,
        "customer": contract.customer.external_id,
        "currency": contract.currency,
        "amount": plain(balance.amount),
        "remaining": plain(remaining),
        "threshold": plain(threshold),
        "threshold_percent": settings.REVOPS_COMMIT_LOW_BALANCE_PERCENT,
        "starts_on": balance.starts_on.isoformat(),
        "expires_on": balance.expires_on.isoformat(),
    }


def shape_many(items: list[Any]) -> list[dict[str, Any]]:
    """`shape` of each item; a list of invoices is shaped at once (invoices_data)."""
    from billing.models import Invoice

    if items and all(isinstance(item, Invoice) for item in items):
        return invoices_data(items)
    return [shape(item) for item in items]


def shape(data: Any) -> dict[str, Any]:
    """A model instance in its API shape; a dict as it is."""
    from billing.models import CreditNote, Invoice
    from catalog.models import RateCardVersion

    if isinstance(data, Invoice):
        return invoice_data(data)
    if isinstance(data, CreditNote):
        return credit_note_data(data)
    if isinstance(data, RateCardVersion):
        return rate_card_version_data(data)
    if isinstance(data, dict):
        return data
    raise TypeError(f"no webhook shape for {type(data).__name__}")
