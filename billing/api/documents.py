"""`GET /api/v1/invoices/<id>/pdf`: the invoice's PDF, rendered once (from its frozen lines) and stored."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from billing.api.invoices import _invoice_get
from billing.pdf import invoice_document_store


class InvoicePdfApi(APIView):
    """Download a numbered invoice as PDF (with its SHA-256 checksum in `X-Checksum-SHA256`). Drafts have none."""

    @extend_schema(
        operation_id="invoices_pdf",
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="the invoice")},
        tags=["invoices"],
    )
    def get(self, request, pk: int):
        document = invoice_document_store(_invoice_get(pk))
        response = FileResponse(
            document.file.open("rb"), content_type="application/pdf", filename=f"{document.invoice.number}.pdf"
        )
        response["X-Checksum-SHA256"] = document.sha256
        return response
