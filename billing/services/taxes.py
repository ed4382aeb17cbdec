"""Tax rates (create, change, read) and the tax lines of an invoice.

Which rate: a customer with a customer-specific rate is taxed at it; otherwise at the rate of its tax region
in effect on the line's tax point (the last day of the line's service inside the invoice period, so a
late-usage correction for an earlier period takes that period's rate). A customer without a region, or
exempt, is not taxed; a region with no rate in effect that day taxes nothing.

The taxable base of a rate is the net of the invoice's lines at that rate, after discounts. Two choices,
made as most tax rules read them:
- A prepaid commitment is taxed when its purchase is invoiced; usage it later pays for is not taxed again,
  so a commitment draw-down reduces the base.
- A promotional credit is a price reduction, so a credit draw-down reduces the base too.
So the base is the sum of every line but the tax lines themselves. One tax line per rate, rounded once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from billing.models import InvoiceLine, InvoiceStatus, LineKind
from billing.services.invoices import LineDraft
from billing.taxes import TaxRate
from contracts.models import Contract, Customer
from contracts.prefetch import batch_for
from contracts.regions import region_problem
from contracts.tax_fields import rate_percent_problem
from revops.errors import Conflict, NotFound, ValidationError
from revops.history import stamp
from revops.money import ZERO, plain, round_amount
from revops.periods import Period

_FIELDS = ("name", "rate_percent", "region", "effective_from", "effective_to")


# --- reads --------------------------------------------------------------------------------------------


def tax_rate_list(*, region: str | None = None) -> QuerySet[TaxRate]:
    rates = TaxRate.objects.all()
    if region:
        rates = rates.filter(region=region)
    return rates.order_by("region", "effective_from", "pk")


def tax_rate_get(*, pk: int) -> TaxRate:
    rate = TaxRate.objects.filter(pk=pk).first()
    if rate is None:
        raise NotFound(f"no tax rate {pk}", code="tax_rate_not_found")
    return rate


def _rate_on(batch, region: str, day: dt.date) -> TaxRate | None:
    """A region's rate on a day, read once per period close batch (many customers share a region)."""
    if batch is None:
        return tax_rate_on(region=region, day=day)
    return batch.remember(("billing.tax_rate", region, day), lambda: tax_rate_on(region=region, day=day))


def tax_rate_on(*, region: str, day: dt.date) -> TaxRate | None:
    """The region's rate in effect on `day` (at most one: periods never overlap)."""
    return (
        TaxRate.objects.filter(region=region, effective_from__lte=day)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=day))
        .first()
    )


# --- writes -------------------------------------------------------------------------------------------


def _check(values: dict[str, Any], *, exclude_pk: int | None) -> None:
    errors: dict[str, list[str]] = {}
    if not str(values.get("name") or "").strip():
        errors["name"] = ["a tax rate needs a name, as printed on invoices (e.g. VAT)"]
    problem = rate_percent_problem(values.get("rate_percent"))
    if problem:
        errors["rate_percent"] = [problem]
    problem = region_problem(values.get("region") or "")
    if problem:
        errors["region"] = [problem]
    start, end = values.get("effective_from"), values.get("effective_to")
    if not isinstance(start, dt.date):
        errors["effective_from"] = ["give the first day the rate applies"]
    elif end is not None and end <= start:
        errors["effective_to"] = ["the end (exclusive) must come after the start"]
    if errors:
        raise ValidationError("the tax rate is invalid", code="invalid_tax_rate", fields=errors)
    # Two writers for one region wait for each other here, so neither misses the other's new period.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"billing.taxrate:{values['region']}"])
    overlapping = TaxRate.objects.filter(region=values["region"]).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=start)
    )
    if end is not None:
        overlapping = overlapping.filter(effective_from__lt=end)
    if exclude_pk is not None:
        overlapping = overlapping.exclude(pk=exclude_pk)
    clash = overlapping.first()
    if clash is not None:
        until = f"until {clash.effective_to}" if clash.effective_to else "open-ended"
        raise ValidationError(
            f"{values['region']} already has a rate then: {clash} from {clash.effective_from} ({until}); end it first",
            code="overlapping_tax_rate",
            field="effective_from",
        )


@transaction.atomic
def tax_rate_create(
    *,
    name: str,
    rate_percent: Decimal,
    region: str,
    effective_from: dt.date,
    actor: AbstractBaseUser | None,
    effective_to: dt.date | None = None,
    reason: str = "tax rate created",
) -> TaxRate:
    values = {
        "name": name,
        "rate_percent": rate_percent,
        "region": region,
        "effective_from": effective_from,
        "effective_to": effective_to,
    }
    _check(values, exclude_pk=None)
    rate = TaxRate(**values)
    stamp(rate, actor=actor, reason=reason)
    rate.save()
    return rate


def _used_on_issued_invoices(rate: TaxRate) -> bool:
    return InvoiceLine.objects.filter(tax_rate=rate).exclude(invoice__status=InvoiceStatus.DRAFT).exists()


@transaction.atomic
def tax_rate_update(*, tax_rate: TaxRate, actor: AbstractBaseUser | None, reason: str, **changes: Any) -> TaxRate:
    """Change a rate. Once an issued invoice used it, only its end date may change (end it, start a new one)."""
    unknown = set(changes) - set(_FIELDS)
    if unknown:
        raise ValidationError(f"unknown tax rate field(s): {', '.join(sorted(unknown))}", code="not_editable")
    if not reason.strip():
        raise ValidationError("a change to a tax rate needs a reason", field="reason")
    rate = TaxRate.objects.select_for_update().get(pk=tax_rate.pk)
    frozen = {k for k, v in changes.items() if k != "effective_to" and v != getattr(rate, k)}
    if frozen and _used_on_issued_invoices(rate):
        raise Conflict(
            f"{rate} is on issued invoices: only its end date can change; end it and create the new rate",
            code="tax_rate_in_use",
        )
    values = {name: changes.get(name, getattr(rate, name)) for name in _FIELDS}
    _check(values, exclude_pk=rate.pk)
    for name, value in values.items():
        setattr(rate, name, value)
    stamp(rate, actor=actor, reason=reason)
    rate.save()
    return rate


# --- invoice lines ------------------------------------------------------------------------------------


def _tax_point(draft: LineDraft, period: Period) -> dt.date:
    end = min(draft.service_end, period.end) if draft.service_end else period.end
    if draft.service_start and end <= draft.service_start:
        end = draft.service_start + dt.timedelta(days=1)
    return end - dt.timedelta(days=1)


def invoice_tax_lines(*, contract: Contract, period: Period, drafts: list[LineDraft]) -> list[LineDraft]:
    """One tax line per rate, on the net of the lines taxed at it (see the module's note on the base)."""
    # As stored now (or when the period close's batch began), not as the caller loaded it.
    batch = batch_for(contract)
    customer = batch.customer(contract.customer_id) if batch else Customer.objects.get(pk=contract.customer_id)
    if customer.tax_exempt or (not customer.tax_region and customer.tax_rate_percent is None):
        return []
    bases: dict[object, Decimal] = {}
    rates: dict[object, tuple[TaxRate | None, Decimal, str]] = {}
    on_day: dict[dt.date, TaxRate | None] = {}
    for draft in drafts:
        if draft.kind == LineKind.TAX:
            continue
        if customer.tax_rate_percent is not None:
            key: object = "customer"
            rates[key] = (None, customer.tax_rate_percent, "Tax (customer rate)")
        else:
            day = _tax_point(draft, period)
            if day not in on_day:  # lines mostly share a tax point: one query per day, not per line
                on_day[day] = _rate_on(batch, customer.tax_region, day)
            rate = on_day[day]
            if rate is None:
                continue
            key = rate.pk
            rates[key] = (rate, rate.rate_percent, rate.name)
        bases[key] = bases.get(key, ZERO) + draft.amount
    lines = []
    for key, base in bases.items():
        # A negative base is fees billed in advance given back: the tax charged on them is given back too.
        if not base:
            continue
        rate, percent, name = rates[key]
        amount = round_amount(base * percent / 100, contract.currency)
        region = f" ({rate.region})" if rate is not None else ""
        lines.append(
            LineDraft(
                kind=LineKind.TAX,
                description=f"{name}{region} {plain(percent)}%",
                amount=amount,
                service_start=period.start,
                service_end=period.end,
                tax_rate=rate,
                tax_percent=percent,
                taxable_base=base,
            )
        )
    return lines
