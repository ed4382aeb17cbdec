"""Finance reports over the API (read scope): JSON, or CSV with `?format=csv` or `Accept: text/csv`.

GET /api/v1/reports/revenue?from=2026-01&to=2026-06
GET /api/v1/reports/month-end?month=2026-03
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, renderers, serializers
from rest_framework.response import Response

from billing.revenue import reports
from revops.api.views import ApiView
from revops.errors import ValidationError

TAGS = ["reports"]


class CsvRenderer(renderers.BaseRenderer):
    """Passes through the CSV text a report view made (views make it; errors are always JSON)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode(self.charset) if isinstance(data, str) else data


class ReportApi(ApiView):
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:  # DRF's answer to an unknown ?format=
            raise ValidationError(
                f"unknown format {request.query_params.get('format')!r}: use json or csv", field="format"
            ) from None
        except exceptions.NotAcceptable:
            raise ValidationError("this report is served as application/json or text/csv", field="Accept") from None

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400 or getattr(request, "accepted_renderer", None) is None:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    def wants_csv(self, request) -> bool:
        return isinstance(request.accepted_renderer, CsvRenderer)

    def csv(self, text: str, filename: str) -> Response:
        response = Response(text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def _figures(f: reports.Figures, currency: str) -> dict[str, str]:
    names = ("billed", "reversed", "recognized", "deferred")
    return {name: reports.money_text(getattr(f, name), currency) for name in names}


class RevenueFiguresOutput(serializers.Serializer):
    billed = serializers.CharField(help_text="invoices finalized in the month (their lines' sum)")
    reversed = serializers.CharField(help_text="voids and credit notes in the month (negative)")
    recognized = serializers.CharField(help_text="revenue earned in the month")
    deferred = serializers.CharField(
        help_text="at the month's end: billed and reversed to date less recognized to date; negative when revenue "
        "was recognized before its invoice was finalized"
    )


class RevenueProductOutput(RevenueFiguresOutput):
    product = serializers.CharField(help_text="the product's code, or the line kind in brackets")


class RevenueMonthOutput(RevenueFiguresOutput):
    month = serializers.CharField(help_text="YYYY-MM")
    products = RevenueProductOutput(many=True)


class RevenueCurrencyOutput(serializers.Serializer):
    currency = serializers.CharField()
    months = RevenueMonthOutput(many=True)
    products = RevenueProductOutput(many=True, help_text="over the range; deferred at its end")
    totals = RevenueFiguresOutput(help_text="over the range; deferred at its end")


class RevenueReportOutput(serializers.Serializer):
    from_month = serializers.CharField(help_text="YYYY-MM")
    to_month = serializers.CharField(help_text="YYYY-MM")
    currencies = RevenueCurrencyOutput(many=True, help_text="one per currency; currencies are never added")


FORMAT = OpenApiParameter("format", str, enum=["json", "csv"], description="or send Accept: text/csv")
CSV_RESPONSE = OpenApiResponse(OpenApiTypes.STR, description="the report as CSV")


def revenue_data(first, last, found: list[reports.CurrencyRevenue]) -> dict[str, Any]:
    return {
        "from_month": f"{first:%Y-%m}",
        "to_month": f"{last:%Y-%m}",
        "currencies": [
            {
                "currency": r.currency,
                "months": [
                    {
                        "month": f"{month:%Y-%m}",
                        **_figures(total, r.currency),
                        "products": [{"product": p, **_figures(f, r.currency)} for p, f in r.products[month].items()],
                    }
                    for month, total in r.months.items()
                ],
                "products": [
                    {"product": p, **_figures(r.product_totals[p], r.currency)} for p in sorted(r.product_totals)
                ],
                "totals": _figures(r.totals, r.currency),
            }
            for r in found
        ],
    }


class RevenueReportApi(ReportApi):
    """Billed, recognized and deferred revenue per month over a range of months, per currency and product."""

    @extend_schema(
        operation_id="reports_revenue",
        parameters=[
            OpenApiParameter("from", str, required=True, description="first month, YYYY-MM"),
            OpenApiParameter("to", str, required=True, description="last month, YYYY-MM (at most 120 months)"),
            FORMAT,
        ],
        responses={(200, "application/json"): RevenueReportOutput, (200, "text/csv"): CSV_RESPONSE},
        tags=TAGS,
    )
    def get(self, request):
        first, last = reports.parse_range(request.query_params.get("from"), request.query_params.get("to"))
        found = reports.revenue_report(first=first, last=last)
        if self.wants_csv(request):
            return self.csv(reports.revenue_report_csv(found), f"revenue-{first:%Y-%m}-{last:%Y-%m}.csv")
        return Response(revenue_data(first, last, found))


class MonthEndInvoicesOutput(serializers.Serializer):
    status = serializers.CharField()
    currency = serializers.CharField()
    count = serializers.IntegerField()
    total = serializers.CharField()


class MonthEndProductOutput(serializers.Serializer):
    currency = serializers.CharField()
    product = serializers.CharField()
    amount = serializers.CharField()


class MonthEndPricingModelOutput(serializers.Serializer):
    currency = serializers.CharField()
    pricing_model = serializers.CharField()
    amount = serializers.CharField()


class MonthEndCorrectionOutput(serializers.Serializer):
    currency = serializers.CharField()
    invoice = serializers.CharField()
    customer = serializers.CharField()
    product = serializers.CharField()
    description = serializers.CharField()
    service_start = serializers.DateField()
    service_end = serializers.DateField()
    amount = serializers.CharField()


class MonthEndCreditNoteOutput(serializers.Serializer):
    currency = serializers.CharField()
    number = serializers.CharField()
    invoice = serializers.CharField()
    customer = serializers.CharField()
    total = serializers.CharField()
    reason = serializers.CharField()


class MonthEndVoidOutput(serializers.Serializer):
    currency = serializers.CharField()
    invoice = serializers.CharField()
    customer = serializers.CharField()
    total = serializers.CharField()
    reason = serializers.CharField()


class MonthEndOutput(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    invoices = MonthEndInvoicesOutput(
        many=True, help_text="finalized in the month, by their status now; drafts of periods ended by its end"
    )
    products = MonthEndProductOutput(many=True)
    pricing_models = MonthEndPricingModelOutput(many=True)
    corrections = MonthEndCorrectionOutput(many=True, help_text="late-usage corrections billed in the month")
    credit_notes = MonthEndCreditNoteOutput(many=True)
    voids = MonthEndVoidOutput(many=True)


def month_end_data(summary: reports.MonthEnd) -> dict[str, Any]:
    def shaped(rows: list[dict], money: str) -> list[dict]:
        return [{**r, money: reports.money_text(r[money], r["currency"])} for r in rows]

    return {
        "month": f"{summary.month:%Y-%m}",
        "invoices": shaped(summary.invoices, "total"),
        "products": shaped(summary.products, "amount"),
        "pricing_models": shaped(summary.pricing_models, "amount"),
        "corrections": shaped(summary.corrections, "amount"),
        "credit_notes": shaped(summary.credit_notes, "total"),
        "voids": shaped(summary.voids, "total"),
    }


class MonthEndReportApi(ReportApi):
    """A month's close: invoices by status, totals by product and pricing model, corrections, credit notes, voids."""

    @extend_schema(
        operation_id="reports_month_end",
        parameters=[OpenApiParameter("month", str, required=True, description="YYYY-MM"), FORMAT],
        responses={(200, "application/json"): MonthEndOutput, (200, "text/csv"): CSV_RESPONSE},
        tags=TAGS,
    )
    def get(self, request):
        month = reports.parse_month(request.query_params.get("month"), field_name="month")
        summary = reports.month_end_summary(month=month)
        if self.wants_csv(request):
            return self.csv(reports.month_end_csv(summary), f"month-end-{month:%Y-%m}.csv")
        return Response(MonthEndOutput(month_end_data(summary)).data)
