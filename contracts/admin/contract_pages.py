"""Reading a contract: as it was on a date (`contract_as_of`), and a period's bill for given usage (`contract_preview`).

Neither page writes anything, so both take their input from the query string: a link to one is a
link to what it showed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms

from catalog.admin.base import grouped, money, plain
from catalog.admin.previews import VersionPreviewForm
from catalog.models import ProductKind
from contracts import selectors
from contracts.admin.display import amount_in, terms_in_words, with_terms
from contracts.models import Contract
from revops import clock
from revops.errors import DomainError


class DayForm(forms.Form):
    day = forms.DateField(required=False, help_text="YYYY-MM-DD; empty: today")

    def day_or_today(self):
        return (self.cleaned_data.get("day") if self.is_valid() else None) or clock.today()


def preview_rows(lines: list[selectors.PreviewLine], currency: str) -> dict[str, Any]:
    """The preview's lines for the page: amounts as the selector rounded them, and their sum."""
    rows = []
    for preview in lines:
        line = preview.line
        usage = preview.product is not None and preview.product.kind == ProductKind.USAGE
        rows.append(
            {
                "description": preview.description,
                "quantity": grouped(line.quantity) if line else "",
                "included": grouped(line.included_quantity) if line and line.included_quantity else "",
                "billable": grouped(line.billable_quantity) if line and usage else "",
                "unit_price": plain(line.unit_price) if line else "",
                "amount": money(preview.amount, currency),
                # The engine's rows explain a usage line; a fee line's are before proration, so they are left out.
                "breakdown": [
                    {"description": item.description, "amount": grouped(item.amount)} for item in line.breakdown
                ]
                if line and usage
                else [],
            }
        )
    total = sum((preview.amount for preview in lines), Decimal(0))
    return {"rows": rows, "total": money(total, currency), "currency": currency}


class ContractPagesMixin:
    """The read-only pages of ContractAdmin."""

    def as_of_view(self, request, object_id):
        contract: Contract = self.object_or_404(request, object_id)
        form = DayForm(request.GET or None)
        day = form.day_or_today()
        snapshot = selectors.contract_as_of(contract, day)
        version = with_terms(contract.versions.filter(pk=snapshot.version.pk)).first() if snapshot.version else None
        return self.render_page(
            request,
            "admin/contracts/contract/as_of.html",
            contract,
            f"{contract} on {day}",
            form=form,
            day=day,
            version=version,
            terms=terms_in_words(version),
            subscriptions=[(code, grouped(quantity)) for code, quantity in sorted(snapshot.subscriptions.items())],
            balances=[
                {
                    "balance": balance,
                    "url": self.balance_url(balance),
                    "kind": balance.get_kind_display(),
                    "held": amount_in(held, contract.currency),
                    "usable": balance.starts_on <= day < balance.expires_on,
                }
                for balance, held in snapshot.balances
            ],
            versions=list(contract.versions.order_by("number").values_list("number", "effective_from")),
            change_url=self.page_url(contract, "change"),
        )

    @staticmethod
    def _usage_rows(form: VersionPreviewForm, prices: dict[str, selectors.ContractPrice]) -> list[dict[str, Any]]:
        rows = form.products()
        for row in rows:
            included = prices[row["product"].code].included
            if included:
                row["summary"] += f"; {grouped(included)} included per period"
        return rows

    def preview_view(self, request, object_id):
        contract: Contract = self.object_or_404(request, object_id)
        period_form = DayForm(request.GET or None)
        period = selectors.contract_period(contract, period_form.day_or_today())
        form, invoice, problem, prices = None, None, None, {}
        try:
            prices = selectors.contract_price_specs(contract, period)
        except DomainError as exc:
            problem = exc.message
        else:
            priced = {
                code: (price.product, price.spec)
                for code, price in prices.items()
                if price.product.kind == ProductKind.USAGE
            }
            usage_given = any("__" in name for name in request.GET)
            form = VersionPreviewForm(request.GET if usage_given else None, priced=priced)
            if not usage_given or form.is_valid():
                try:
                    lines = selectors.contract_preview(
                        contract=contract, period=period, usage=form.usage() if usage_given else {}
                    )
                except DomainError as exc:
                    form.add_usage_error(exc)
                else:
                    invoice = preview_rows(lines, contract.currency)
        return self.render_page(
            request,
            "admin/contracts/contract/preview.html",
            contract,
            f"Preview: {contract}",
            period=period,
            period_form=period_form,
            previous_day=period.start - dt.timedelta(days=1),
            next_day=period.end,
            form=form,
            products=self._usage_rows(form, prices) if form else [],
            invoice=invoice,
            problem=problem,
            change_url=self.page_url(contract, "change"),
        )
