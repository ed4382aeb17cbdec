"""The upcoming invoice of a contract: the current period's lines so far, with its measured usage.

It lives in the usage app because it measures usage; the pricing is the contract's own preview.
"""

from __future__ import annotations

import zoneinfo

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from contracts import selectors as contract_selectors
from contracts.api.previews import ContractPreviewOutput, preview_data
from contracts.services.clocks import customer_now
from revops.api.views import ApiView
from revops.models import ApiScope
from usage.selectors import contract_usage_quantities


class UpcomingInvoiceApi(ApiView):
    """The lines the contract's current period would bill so far: prorated fees, usage measured up to now
    and priced with the contract's terms, and a minimum-spend true-up. Stores nothing."""

    required_scope = ApiScope.READ

    @extend_schema(operation_id="contracts_upcoming_invoice", responses=ContractPreviewOutput, tags=["contracts"])
    def get(self, request, pk: int):
        contract = contract_selectors.contract_get(pk=pk)
        today = customer_now(contract.customer).astimezone(zoneinfo.ZoneInfo(contract.customer.timezone)).date()
        period = contract_selectors.contract_period(contract, today)
        usage = contract_usage_quantities(contract, period)
        lines = contract_selectors.contract_preview(contract=contract, period=period, usage=usage)
        return Response(preview_data(contract, period, lines))
