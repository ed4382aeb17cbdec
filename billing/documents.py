"""The PDFs of an invoice, each rendered once and kept: file, checksum, size, and which template made it.

Only an invoice that has left draft and carries a number gets a document (a zero-total invoice is never
numbered, so it has none). The first lives under MEDIA_ROOT as `invoices/<number>.pdf`; when the invoice
is paid or voided a new one is rendered with the mark (`invoices/<number>-paid.pdf`), and the earlier
documents are kept: what was sent to the customer stays provable. The latest is the one handed out.
The checksum lets anyone prove later that the file handed to a customer is the one stored.
"""

from __future__ import annotations

from django.db import models


def invoice_document_path(document: InvoiceDocument, filename: str) -> str:
    # The name given is the invoice's number, with the status for a paid or void copy (invoices/N-paid.pdf).
    return f"invoices/{filename.rsplit('/', 1)[-1]}"


class InvoiceDocument(models.Model):
    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="documents")
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
        ordering = ["-rendered_at", "-pk"]
        constraints = [
            # One document per invoice state: a rerun of the same render stores nothing new.
            models.UniqueConstraint(fields=["invoice", "invoice_status"], name="invoicedocument_one_per_status"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number}.pdf"
