"""Named read queries for customers and contracts."""

from __future__ import annotations

from django.db.models import QuerySet

from contracts.models import Customer
from revops.errors import NotFound


def customer_list(*, search: str | None = None) -> QuerySet[Customer]:
    qs = Customer.objects.all()
    if search:
        qs = qs.filter(name__icontains=search) | qs.filter(external_id__icontains=search)
    return qs.order_by("name", "pk")


def customer_get(*, external_id: str) -> Customer:
    customer = Customer.objects.filter(external_id=external_id).first()
    if customer is None:
        raise NotFound(f"no customer with external id {external_id!r}", code="customer_not_found")
    return customer
