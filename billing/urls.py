from django.urls import include, path

from billing.api import clocks, credit_notes, documents, invoices, taxes, upcoming
from billing.revenue import api as revenue

INVOICE = "invoices/<int:pk>"

urlpatterns = [
    path("invoices", invoices.InvoiceListApi.as_view(), name="invoices"),
    path(INVOICE, invoices.InvoiceDetailApi.as_view(), name="invoice-detail"),
    path(f"{INVOICE}/recompute", invoices.InvoiceRecomputeApi.as_view(), name="invoice-recompute"),
    path(f"{INVOICE}/finalize", invoices.InvoiceFinalizeApi.as_view(), name="invoice-finalize"),
    path(f"{INVOICE}/void", invoices.InvoiceVoidApi.as_view(), name="invoice-void"),
    path(f"{INVOICE}/mark-paid", invoices.InvoiceMarkPaidApi.as_view(), name="invoice-mark-paid"),
    path(f"{INVOICE}/pdf", documents.InvoicePdfApi.as_view(), name="invoice-pdf"),
    path(f"{INVOICE}/credit-notes", credit_notes.InvoiceCreditNotesApi.as_view(), name="invoice-credit-notes"),
    path("reports/revenue", revenue.RevenueReportApi.as_view(), name="reports-revenue"),
    path("reports/month-end", revenue.MonthEndReportApi.as_view(), name="reports-month-end"),
    path("tax-rates", taxes.TaxRateListCreateApi.as_view(), name="tax-rates"),
    path("tax-rates/<int:pk>", taxes.TaxRateDetailApi.as_view(), name="tax-rate-detail"),
    path("contracts/<int:pk>/invoices", invoices.ContractInvoiceComputeApi.as_view(), name="contract-invoices"),
    path("contracts/<int:pk>/upcoming-invoice", upcoming.UpcomingInvoiceApi.as_view(), name="contract-upcoming"),
    path("", include("billing.webhooks.urls")),
    path("test-clocks", clocks.TestClockListCreateApi.as_view(), name="test-clocks"),
    path("test-clocks/<int:pk>", clocks.TestClockDetailApi.as_view(), name="test-clock-detail"),
    path("test-clocks/<int:pk>/advance", clocks.TestClockAdvanceApi.as_view(), name="test-clock-advance"),
    path("test-clocks/<int:pk>/customers", clocks.TestClockCustomerAttachApi.as_view(), name="test-clock-customers"),
]
