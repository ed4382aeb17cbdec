"""The version price preview: a quantity per priced product in, rated lines out, as on an invoice."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms

from catalog import rating, selectors
from catalog.admin.base import grouped, money, plain
from revops.errors import DomainError
from revops.errors import ValidationError as DomainValidationError


class VersionPreviewForm(forms.Form):
    """A quantity per priced product; for dimensional prices, `value=quantity` lines; for percentages, events."""

    def __init__(self, *args: Any, priced: dict[str, tuple[Any, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.priced = priced
        for code, (product, spec) in sorted(priced.items()):
            unit = product.unit_label or (product.metric.unit_label if product.metric else "") or "units"
            if isinstance(spec, rating.DimensionalPriceSpec):
                values = ", ".join(sorted(spec.prices)) + (" and a default for any other" if spec.default else "")
                self.fields[f"groups__{code}"] = forms.CharField(
                    required=False,
                    label=f"{unit} by {spec.group_key}",
                    widget=forms.Textarea(attrs={"rows": 3, "cols": 40, "placeholder": f"{spec.group_key}=quantity"}),
                    help_text=f"one {spec.group_key}=quantity a line; priced: {values}",
                )
                continue
            is_percentage = spec.model == rating.PriceModel.PERCENTAGE
            self.fields[f"quantity__{code}"] = forms.DecimalField(
                required=False, min_value=0, label="volume" if is_percentage else unit
            )
            if is_percentage:
                self.fields[f"events__{code}"] = forms.IntegerField(
                    required=False, min_value=0, label="events", help_text="for the fixed fee per event"
                )
                if spec.min_per_event is not None or spec.max_per_event is not None:
                    self.fields[f"amounts__{code}"] = forms.CharField(
                        required=False,
                        label="each event's amount",
                        widget=forms.Textarea(attrs={"rows": 2, "cols": 40}),
                        help_text="comma or line separated; per-event limits need them (replaces volume and events)",
                    )

    def products(self) -> list[dict[str, Any]]:
        """The fields grouped per product, for the template."""
        rows = []
        for code, (product, spec) in sorted(self.priced.items()):
            rows.append(
                {
                    "product": product,
                    "summary": _spec_summary(spec),
                    "fields": [self[name] for name in self.fields if name.split("__", 1)[1] == code],
                }
            )
        return rows

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in self.fields:
            if name.startswith(("groups__", "amounts__")) and name in cleaned:
                try:
                    cleaned[name] = (
                        _parse_groups(cleaned[name]) if name.startswith("groups__") else _parse_amounts(cleaned[name])
                    )
                except ValueError as exc:
                    self.add_error(name, str(exc))
        return cleaned

    def usage(self) -> dict[str, Any]:
        data, usage = self.cleaned_data, {}
        for code, (_product, spec) in self.priced.items():
            if isinstance(spec, rating.DimensionalPriceSpec):
                usage[code] = data.get(f"groups__{code}") or {}  # nothing given: no lines, not an error
                continue
            quantity = data.get(f"quantity__{code}") or Decimal(0)
            if spec.model != rating.PriceModel.PERCENTAGE:
                usage[code] = quantity
                continue
            amounts = data.get(f"amounts__{code}")
            try:
                if amounts:
                    usage[code] = rating.Usage(quantity=sum(amounts, Decimal(0)), event_values=tuple(amounts))
                elif f"amounts__{code}" in self.fields and not quantity:
                    usage[code] = rating.Usage(quantity=Decimal(0), event_values=())
                else:
                    usage[code] = rating.Usage(quantity=quantity, event_count=data.get(f"events__{code}") or 0)
            except rating.UsageError as exc:
                raise DomainValidationError(str(exc), field=f"usage.{code}") from None
        return usage

    def add_usage_error(self, exc: DomainError) -> None:
        """A rating problem next to the product's inputs (`usage.<code>`), else above the form."""
        if not exc.fields:
            self.add_error(None, exc.message)
        for where, problems in exc.fields.items():
            head, _, code = where.partition(".")
            names = [name for name in self.fields if code and name.split("__", 1)[1] == code]
            self.add_error(names[0] if head == "usage" and names else None, problems)


def _parse_groups(text: str) -> dict[str, Decimal]:
    groups: dict[str, Decimal] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value, sep, quantity = line.partition("=")
        value = value.strip()
        if not sep or not value:
            raise ValueError(f"line {number}: write value=quantity, e.g. lumen-small=125000")
        if value in groups:
            raise ValueError(f"line {number}: {value} is given twice")
        groups[value] = _non_negative(quantity, f"line {number}")
    return groups


def _parse_amounts(text: str) -> list[Decimal]:
    parts = [part for part in text.replace(",", "\n").split() if part]
    return [_non_negative(part, f"amount {number}") for number, part in enumerate(parts, start=1)]


def _non_negative(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{where}: {text.strip()!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{where}: a quantity is a number of 0 or more, not {text.strip()}")
    return value


def _spec_summary(spec: Any) -> str:
    if isinstance(spec, rating.DimensionalPriceSpec):
        return (
            f"per {spec.group_key}: "
            + "; ".join(f"{value}: {_spec_summary(price)}" for value, price in sorted(spec.prices.items()))
            + (f"; any other: {_spec_summary(spec.default)}" if spec.default else "")
        )
    model = spec.model.value.replace("_", " ")
    if spec.model == rating.PriceModel.FLAT:
        return f"flat {plain(spec.flat_amount)}"
    if spec.model == rating.PriceModel.PER_UNIT:
        return f"{plain(spec.unit_price)} per unit"
    if spec.model in (rating.PriceModel.GRADUATED, rating.PriceModel.VOLUME):
        return f"{model}, {len(spec.tiers)} tiers"
    if spec.model == rating.PriceModel.PACKAGE:
        return f"{plain(spec.package_price)} per {plain(spec.package_size)}"
    return f"{plain(spec.percentage)}%" + (
        f" + {plain(spec.fixed_fee_per_event)} per event" if spec.fixed_fee_per_event is not None else ""
    )


def invoice_rows(lines: list[selectors.PreviewLine], currency: str) -> dict[str, Any]:
    rows, total = [], Decimal(0)
    for preview in lines:
        line = preview.line
        amount = line.rounded_amount()
        total += amount
        rows.append(
            {
                "product": preview.product,
                "group": line.group,
                "model": line.model.value.replace("_", " "),
                "quantity": grouped(line.quantity),
                "included": grouped(line.included_quantity) if line.included_quantity else "",
                "billable": grouped(line.billable_quantity),
                "unit_price": plain(line.unit_price),
                "amount": money(amount, currency),
                "exact": plain(line.amount),
                "breakdown": [
                    {
                        "description": item.description,
                        "quantity": grouped(item.quantity),
                        "unit_price": plain(item.unit_price),
                        "flat_fee": plain(item.flat_fee) if item.flat_fee else "",
                        "amount": grouped(item.amount),
                    }
                    for item in line.breakdown
                ],
            }
        )
    return {"rows": rows, "total": money(total, currency), "currency": currency}
