"""What every catalog admin shares: writes through services, domain errors shown on the form, history read-only.

A domain error raised while saving (a race, a state change the form could not see) rolls the
admin's transaction back; the view then runs again with the error attached to the form, so the
person sees it next to the field they typed, with their input kept, instead of a 500.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.db import models
from django.template.response import TemplateResponse
from simple_history.admin import SimpleHistoryAdmin

from revops.errors import DomainError
from revops.history import REASON_MAX_LENGTH
from revops.money import minor_unit_exponent, plain

SAVE_ERROR_ATTR = "_catalog_admin_save_error"


def grouped(value: Decimal) -> str:
    """A quantity or rate for reading: thousands separated, no trailing zeros (1500000 -> '1,500,000')."""
    text = plain(value)
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-') or 0):,}"
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def money(amount: Decimal, currency: str) -> str:
    """An already rounded amount in its currency's minor unit: '1,234.50 USD', '1,235 JPY'."""
    places = minor_unit_exponent(currency)
    return f"{amount:,.{places}f} {currency}"


def field_path_label(path: str) -> str:
    """'filters.0.operator' -> 'filters #1 operator' (rows counted from 1, as a person does)."""
    return " ".join(f"#{int(part) + 1}" if part.isdigit() else part.replace("_", " ") for part in path.split("."))


def describe(exc: DomainError) -> str:
    """One line for a message box: the error and every field problem it names."""
    details = [
        f"{field_path_label(path)}: {message}" if message != exc.message else message
        for path, messages in exc.fields.items()
        for message in messages
    ]
    if not details:
        return exc.message
    if details == [exc.message]:
        return exc.message
    return f"{exc.message}: " + "; ".join(details)


def add_domain_error(form: forms.BaseForm, exc: DomainError, *, field_names: Mapping[str, str] | None = None) -> None:
    """Put a domain error on a form: on the named field where the form has it, else above the form.

    `field_names` maps an error's first path segment to a form field name where they differ.
    """
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for path, messages in exc.fields.items():
        head, _, rest = path.partition(".")
        target = (field_names or {}).get(head, head)
        if target in form.fields and not form.fields[target].disabled:
            form.add_error(target, [f"{field_path_label(rest)}: {m}" if rest else m for m in messages])
        else:
            form.add_error(None, [f"{field_path_label(path)}: {m}" for m in messages])


def plain_initial(form: forms.BaseForm) -> None:
    """Show stored decimals as people write them in the form's inputs (40, not 40.000000000000 or 0E-12)."""
    for name, field in form.fields.items():
        if isinstance(field, forms.DecimalField) and isinstance(form.initial.get(name), Decimal):
            form.initial[name] = plain(form.initial[name])


class ReasonField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", True)
        kwargs.setdefault("max_length", REASON_MAX_LENGTH)
        kwargs.setdefault("label", "Reason for this change")
        kwargs.setdefault("help_text", "Required: recorded in the history with your name.")
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        super().__init__(**kwargs)


class ServiceModelForm(forms.ModelForm):
    """A model form whose save goes through a service. `save_error` is set by the admin on a retry."""

    save_error: DomainError | None = None
    save_error_field_names: Mapping[str, str] = {}

    change_reason = ReasonField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_initial(self)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.save_error is not None:
            add_domain_error(self, self.save_error, field_names=self.save_error_field_names)
        return cleaned

    def reason(self, default: str) -> str:
        return (self.cleaned_data.get("change_reason") or "").strip() or default


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Point the admin's instance at the row a service saved (for the log entry and the redirect)."""
    obj.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
    obj._state.adding = False


class ServiceAdmin(SimpleHistoryAdmin):
    """Base for catalog admins: services do the writes; nothing here calls `save()` or `delete()`."""

    save_as = False

    # --- domain errors raised while saving come back as form errors -------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # The admin's transaction has rolled back: nothing was saved. Validate again with the error.
            if request.method != "POST" or hasattr(request, SAVE_ERROR_ATTR):
                raise
            setattr(request, SAVE_ERROR_ATTR, exc)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        error = getattr(request, SAVE_ERROR_ATTR, None)
        if error is not None and issubclass(form, ServiceModelForm):
            form = type(form.__name__, (form,), {"save_error": error})
        return form

    def reason_fieldset(self, request, obj=None) -> list[tuple[str | None, dict[str, Any]]]:
        """The "reason for this change" input, on pages where something can change."""
        if obj is not None and not self.has_change_permission(request, obj):
            return []
        return [(None, {"fields": ["change_reason"]})]

    def save_related(self, request, form, formsets, change):
        """Related rows are saved by the services (see the admins with inlines); never by the formsets."""

    # --- history is for reading: a revert would write around the services --------------------------------

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("history is read-only here; change the object itself")
        return super().history_form_view(request, object_id, version_id, extra_context)

    # --- helpers for the custom pages ---------------------------------------------------------------------

    def render_page(self, request, template: str, obj: models.Model | None, title: str, **context: Any):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": obj,
                "title": title,
                **context,
            },
        )


def tier_summary(tiers: Iterable[Any]) -> str:
    """'0-1,000 at 0.10; over 1,000 at 0.05' for a list of tiers (models or dicts)."""
    parts = []
    for tier in tiers:
        get = tier.get if isinstance(tier, Mapping) else lambda name, t=tier: getattr(t, name)
        start, up_to, unit_price, flat_fee = get("start"), get("up_to"), get("unit_price"), get("flat_fee")
        span = f"over {grouped(start)}" if up_to is None else f"{grouped(start)} to {grouped(up_to)}"
        fee = f" + {plain(flat_fee)} flat" if flat_fee else ""
        parts.append(f"{span} at {plain(unit_price)}{fee}")
    return "; ".join(parts)
