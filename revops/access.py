"""Which objects a person may touch within their role (django-guardian object permissions).

- Customers: a member of a customer-facing role (Sales, Support) without `contracts.view_all_customers`
  sees only the customers they are the account manager of, plus those granted to them (or a group of
  theirs) with the object permission `contracts.view_customer`; their contracts and invoices follow.
  Everyone else is limited by their model permissions alone.
- Rate cards: a user with the global `catalog.change_ratecard` edits every card's drafts; anyone
  else only the cards granted to them (`catalog.change_ratecard` on the card) or those of a product
  line granted to them (`catalog.manage_rate_cards` on the line). The model permission (say
  `catalog.change_price`) is still needed on top: this says which cards, roles say what.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

SEE_ALL_CUSTOMERS = "contracts.view_all_customers"
EDIT_ALL_RATE_CARDS = "catalog.change_ratecard"


def sees_all_customers(user) -> bool:
    """Only members of the customer-facing roles (Sales, Support) are narrowed to their own customers."""
    if user.has_perm(SEE_ALL_CUSTOMERS):
        return True
    scoped = getattr(user, "_revops_customer_scoped", None)
    if scoped is None:
        from revops.roles import CUSTOMER_SCOPED_ROLES

        scoped = user.is_authenticated and user.groups.filter(name__in=CUSTOMER_SCOPED_ROLES).exists()
        user._revops_customer_scoped = scoped
    return not scoped


def customers_visible(user, customers: QuerySet) -> QuerySet:
    """`customers` narrowed to those `user` may see."""
    if sees_all_customers(user):
        return customers
    granted = get_objects_for_user(
        user, "contracts.view_customer", klass=customers.model, accept_global_perms=False, with_superuser=False
    )
    return customers.filter(Q(account_manager_id=user.pk) | Q(pk__in=granted.values("pk")))


def through_customer(user, queryset: QuerySet, *, customer_field: str = "customer") -> QuerySet:
    """Contracts, invoices... narrowed to those of customers `user` may see."""
    if sees_all_customers(user):
        return queryset
    from contracts.models import Customer

    visible = customers_visible(user, Customer.objects.all())
    return queryset.filter(**{f"{customer_field}__in": visible.values("pk")})


def may_see_customer(user, customer) -> bool:
    if sees_all_customers(user) or customer.account_manager_id == user.pk:
        return True
    return user.has_perm("contracts.view_customer", customer)


def may_edit_rate_card(user, rate_card) -> bool:
    if user.has_perm(EDIT_ALL_RATE_CARDS) or user.has_perm(EDIT_ALL_RATE_CARDS, rate_card):
        return True
    line = rate_card.product_line
    return line is not None and user.has_perm("catalog.manage_rate_cards", line)


def visible_to(request, queryset: QuerySet, *, customer_field: str | None = None) -> QuerySet:
    """An API list narrowed for a staff session; API keys see what their scopes allow (all of it)."""
    from revops.models import ApiKey

    if isinstance(getattr(request, "auth", None), ApiKey) or not request.user.is_authenticated:
        return queryset
    if customer_field is None:
        return customers_visible(request.user, queryset)
    return through_customer(request.user, queryset, customer_field=customer_field)
