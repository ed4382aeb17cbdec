"""Editing a contract's terms on a page: minimum spend and trial fields, price override and included usage rows.

`TermsEditor` is shared by the new-contract page (the signed terms, version 1) and the amendment page
(the kinds to replace). It only shapes input into `services.contracts.Terms`; whether the terms make
sense (overlaps, signs, usage products) is `contract_create`'s and `contract_amend`'s to say, and
their errors are put back on the row and field they name.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms

from catalog import rating
from catalog.admin.base import field_path_label, plain
from catalog.admin.prices import ProductCodeField
from catalog.models import Product, ProductKind
from contracts.models import OverrideKind
from contracts.services.contracts import OverrideSpec, Terms
from revops.errors import DomainError

_SMALL = {"size": 10}
PRICE_MODELS = [model.value for model in rating.PriceModel]


class OverrideRowForm(forms.Form):
    product = ProductCodeField(
        queryset=Product.objects.order_by("code"), required=False, empty_label="(the whole card)"
    )
    kind = forms.ChoiceField(choices=[("", "---------"), *OverrideKind.choices])  # empty: an unused row
    value = forms.DecimalField(
        required=False,
        widget=forms.TextInput(attrs=_SMALL),
        help_text="discount: percent off; multiplier: the factor",
    )
    price = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 36, "spellcheck": "false"}),
        help_text='replace: the price as JSON, e.g. {"model": "per_unit", "unit_price": "0.008"}',
    )

    def clean_price(self) -> dict[str, Any] | None:
        text = (self.cleaned_data.get("price") or "").strip()
        if not text:
            return None
        try:
            # Numbers as Decimal: a float would change a price's last digits.
            value = json.loads(text, parse_float=Decimal, parse_int=Decimal)
        except ValueError as exc:
            raise forms.ValidationError(f"not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("give a JSON object with the price's model and fields")
        if value.get("model") not in PRICE_MODELS:
            raise forms.ValidationError(f"give the price's model, one of {', '.join(PRICE_MODELS)}")
        return value

    def spec(self) -> OverrideSpec:
        data = self.cleaned_data
        kind = data["kind"]
        return OverrideSpec(
            kind=kind,
            product=data.get("product"),
            multiplier=data.get("value") if kind == OverrideKind.MULTIPLIER else None,
            discount_percent=data.get("value") if kind == OverrideKind.DISCOUNT else None,
            price=data.get("price") if kind == OverrideKind.REPLACE else None,
        )


class IncludedRowForm(forms.Form):
    product = ProductCodeField(queryset=Product.objects.filter(kind=ProductKind.USAGE).order_by("code"))
    quantity = forms.DecimalField(widget=forms.TextInput(attrs=_SMALL), help_text="units per period")


OverrideFormSet = forms.formset_factory(OverrideRowForm, extra=2, can_delete=True)
IncludedFormSet = forms.formset_factory(IncludedRowForm, extra=2, can_delete=True)


class TermsForm(forms.Form):
    minimum_spend = forms.DecimalField(required=False, help_text="per period, in the contract's currency")
    trial_ends_on = forms.DateField(
        required=False, label="Free trial until", help_text="exclusive; no base fees before this date"
    )
    trial_usage_billed = forms.BooleanField(required=False, label="Usage billed during the trial")


class AmendTermsForm(TermsForm):
    """The kinds ticked are replaced by what the page shows; the others carry over from the latest version."""

    replace_overrides = forms.BooleanField(required=False, label="Replace the price overrides")
    replace_included_usage = forms.BooleanField(required=False, label="Replace the included usage")
    replace_minimum_spend = forms.BooleanField(
        required=False, label="Replace the minimum spend", help_text="left empty: no minimum from this date"
    )
    replace_trial = forms.BooleanField(
        required=False, label="Replace the trial", help_text="left empty: no trial from this date"
    )

    field_order = [
        "replace_minimum_spend",
        "minimum_spend",
        "replace_trial",
        "trial_ends_on",
        "trial_usage_billed",
        "replace_overrides",  # these two are shown with their rows
        "replace_included_usage",
    ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Ticked and left empty, a minimum or trial is removed from the amendment's date on (see terms()).
        for kind, names in (("minimum_spend", ["minimum_spend"]), ("trial", ["trial_ends_on", "trial_usage_billed"])):
            if not cleaned.get(f"replace_{kind}") and any(name in self.changed_data for name in names):
                self.add_error(names[0], "tick “replace” to change this, or put it back as it was")
        return cleaned


def _shown(value: Decimal | None) -> Decimal | None:
    """A stored decimal as people write it (25, not 25.000000): still a Decimal, so unchanged rows compare equal."""
    return None if value is None else Decimal(plain(value))


def _kept(formset: forms.BaseFormSet) -> list[forms.Form]:
    """The rows that hold a term: the ones that were there (unless removed) and the ones filled in."""
    return [
        form
        for index, form in enumerate(formset.forms)
        if (index < formset.initial_form_count() or form.has_changed()) and not form.cleaned_data.get("DELETE")
    ]


class TermsEditor:
    """The terms part of a page: a small form and two row formsets, bound to the same POST."""

    def __init__(self, data: Any = None, *, initial: Terms | None = None, amending: bool = False) -> None:
        initial = initial or Terms()
        self.amending = amending
        fields: dict[str, Any] = {}
        if initial.minimum_spend is not None:
            fields["minimum_spend"] = _shown(initial.minimum_spend)
        if initial.trial is not None:
            fields["trial_ends_on"], fields["trial_usage_billed"] = initial.trial
        self.form = (AmendTermsForm if amending else TermsForm)(data, prefix="terms", initial=fields)
        self.overrides = OverrideFormSet(
            data,
            prefix="overrides",
            initial=[
                {
                    "product": o.product,
                    "kind": o.kind,
                    "value": _shown(o.multiplier if o.kind == OverrideKind.MULTIPLIER else o.discount_percent),
                    "price": json.dumps(o.price) if o.price else "",
                }
                for o in initial.overrides or ()
            ],
        )
        self.included = IncludedFormSet(
            data,
            prefix="included",
            initial=[{"product": p, "quantity": _shown(q)} for p, q in initial.included_usage or ()],
        )

    def is_valid(self) -> bool:
        valid = all([self.form.is_valid(), self.overrides.is_valid(), self.included.is_valid()])
        if valid and self.amending:
            for name, formset in (("overrides", self.overrides), ("included_usage", self.included)):
                if not self.form.cleaned_data[f"replace_{name}"] and formset.has_changed():
                    self.form.add_error(
                        None, f"tick “replace the {name.replace('_', ' ')}” to change those rows, or put them back"
                    )
                    valid = False
        return valid

    @property
    def has_errors(self) -> bool:
        return bool(
            self.form.errors
            or any(self.overrides.errors)
            or self.overrides.non_form_errors()
            or any(self.included.errors)
            or self.included.non_form_errors()
        )

    def terms(self) -> Terms:
        data = self.form.cleaned_data
        replace = (lambda kind: data[f"replace_{kind}"]) if self.amending else (lambda kind: True)
        trial = (data["trial_ends_on"], data["trial_usage_billed"]) if data.get("trial_ends_on") else None
        return Terms(
            overrides=[form.spec() for form in _kept(self.overrides)] if replace("overrides") else None,
            included_usage=(
                [(f.cleaned_data["product"], f.cleaned_data["quantity"]) for f in _kept(self.included)]
                if replace("included_usage")
                else None
            ),
            minimum_spend=data.get("minimum_spend") if replace("minimum_spend") else None,
            trial=trial if replace("trial") else None,
            remove_minimum=self.amending and replace("minimum_spend") and data.get("minimum_spend") is None,
            remove_trial=self.amending and replace("trial") and trial is None,
        )

    def add_error(self, exc: DomainError) -> dict[str, list[str]]:
        """Put the problems with the terms on their rows and fields; return the others (not the terms')."""
        rest: dict[str, list[str]] = {}
        rows = {"overrides": _kept(self.overrides), "included_usage": _kept(self.included)}
        field_of = {"multiplier": "value", "discount_percent": "value"}
        for path, problems in exc.fields.items():
            parts = path.split(".")
            if parts[0] in rows and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(rows[parts[0]]):
                row = rows[parts[0]][int(parts[1])]
                name = field_of.get(parts[2], parts[2]) if len(parts) > 2 else None
                row.add_error(name if name in row.fields else None, problems)
            elif parts[0] in ("minimum_spend", "trial"):
                self.form.add_error("minimum_spend" if parts[0] == "minimum_spend" else "trial_ends_on", problems)
            elif parts[0] in rows:
                rest[path] = [f"{field_path_label(path)}: {p}" for p in problems]
            else:
                rest[path] = problems
        return rest
