"""The admin's read-only page of a contract's upcoming invoice (`billing.services.upcoming`).

It hangs off the invoice admin (`admin:billing_invoice_upcoming`, /admin/billing/invoice/upcoming/<contract>/)
because billing computes it and the contracts admin may not import billing; the contract's page links to it
by URL name only (templates/admin/contracts/contract/change_form.html).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from billing.services.upcoming import ESTIMATE_NOTE, invoice_upcoming
from catalog.admin.base import plain
from contracts import selectors as contract_selectors
from contracts.admin.display import amount_in
from contracts.services.clocks import customer_now
from revops import access
from revops.errors import NotFound


class UpcomingInvoicePageMixin:
    """For the invoice admin: who may read invoices may read a contract's upcoming one, for their customers."""

    def get_urls(self):
        page = path(
            "upcoming/<int:contract_id>/",
            self.admin_site.admin_view(self.upcoming_view),
            name="billing_invoice_upcoming",
        )
        return [page, *super().get_urls()]

    def upcoming_view(self, request, contract_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            contract = contract_selectors.contract_get(pk=contract_id)
        except NotFound as missing:
            raise Http404(missing.message) from missing
        if not access.may_see_customer(request.user, contract.customer):
            raise Http404(f"no contract {contract_id}")  # not theirs: as if it did not exist
        upcoming = invoice_upcoming(contract=contract, as_of=customer_now(contract.customer))
        currency = upcoming.invoice.currency
        rows = [
            {
                "kind": line.get_kind_display(),
                "description": line.description,
                "quantity": plain(line.quantity) if line.quantity is not None else "",
                "unit_price": plain(line.unit_price) if line.unit_price is not None else "",
                "amount": amount_in(line.amount, currency),
                "service": f"{line.service_start} to {line.service_end}" if line.service_start else "",
                "breakdown": line.breakdown,
            }
            for line in upcoming.lines
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Upcoming invoice: {contract}",
            "contract": contract,
            "contract_url": reverse("admin:contracts_contract_change", args=[contract.pk]),
            "upcoming": upcoming,
            "rows": rows,
            "subtotal": amount_in(upcoming.invoice.subtotal, currency),
            "tax_total": amount_in(upcoming.invoice.tax_total, currency),
            "total": amount_in(upcoming.invoice.total, currency),
            "note": ESTIMATE_NOTE,
        }
        return TemplateResponse(request, "admin/billing/invoice/upcoming.html", context)
