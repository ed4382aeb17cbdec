"""The PDF of an invoice, rendered once and kept: file, checksum, size, and which template made it.

Only an invoice that has left draft and carries a number gets a document (a zero-total invoice is never
numbered, so it has none). The file lives under MEDIA_ROOT as `invoices/<number>.pdf`; the checksum lets
anyone prove later that the file handed to a customer is the one stored.
"""

from __future__ import annotations

from django.db import models


def invoice_document_path(document: InvoiceDocument, filename: str) -> str:
    return f"invoices/{document.invoice.number}.pdf"


class InvoiceDocument(models.Model):
    invoice = models.OneToOneField("billing.Invoice", on_delete=models.PROTECT, related_name="document")
    file = models.FileField(upload_to=invoice_document_path, max_length=255)
    sha256 = models.CharField(max_length=64, help_text="hex SHA-256 of the stored PDF bytes")
    size = models.PositiveIntegerField(help_text="bytes")
    rendered_at = models.DateTimeField()
    template_version = models.CharField(max_length=32)
    invoice_status = models.CharField(
        max_length=16, help_text="the invoice's status when it was rendered (finalized, paid or void)"
    )

    class Meta:
        app_label = "billing"
        ordering = ["-rendered_at", "pk"]

    def __str__(self) -> str:
        return f"{self.invoice.number}.pdf"
