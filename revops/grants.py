"""Per-object grants (django-guardian), made and removed with who and why in the history.

Kinds of grant a person can be given on one object:
- see_customer: see one customer (and its contracts and invoices) without seeing every customer;
- account_manager: be the customer's account manager (sees it the same way; one per customer);
- edit_rate_card: edit one rate card's drafts (with the Product role's model permissions);
- manage_product_line: edit the drafts of every rate card of a product line.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from guardian.models import UserObjectPermission

from revops.errors import ValidationError
from revops.history import stamp

KINDS = {
    "see_customer": "See this customer (external id)",
    "account_manager": "Account manager of this customer (external id)",
    "edit_rate_card": "Edit this rate card's drafts (code)",
    "manage_product_line": "Edit the drafts of this product line's rate cards (code)",
}
_GUARDIAN = {
    "see_customer": ("contracts", "customer", "view_customer", "external_id"),
    "edit_rate_card": ("catalog", "ratecard", "change_ratecard", "code"),
    "manage_product_line": ("catalog", "productline", "manage_rate_cards", "code"),
}


def _target(kind: str, key: str):
    app, model, codename, lookup = _GUARDIAN[kind]
    model_class = ContentType.objects.get_by_natural_key(app, model).model_class()
    obj = model_class.objects.filter(**{lookup: key}).first()
    if obj is None:
        raise ValidationError(f"no {model_class._meta.verbose_name} {key!r}", code="not_found", field="key")
    permission = Permission.objects.get(content_type__app_label=app, codename=codename)
    return obj, permission


@transaction.atomic
def object_grant_create(
    *, user: AbstractBaseUser, kind: str, key: str, actor: AbstractBaseUser | None, reason: str
) -> UserObjectPermission | None:
    """Give `user` the grant; returns the guardian row (None for an account manager, kept on the customer)."""
    if kind not in KINDS:
        raise ValidationError(f"kind is one of {', '.join(KINDS)}", field="kind")
    if not reason.strip():
        raise ValidationError("say why this access is given", field="reason")
    if kind == "account_manager":
        from contracts.models import Customer

        customer = Customer.objects.select_for_update().filter(external_id=key).first()
        if customer is None:
            raise ValidationError(f"no customer {key!r}", code="not_found", field="key")
        customer.account_manager = user
        stamp(customer, actor=actor, reason=reason)
        customer.save()
        return None
    obj, permission = _target(kind, key)
    existing = UserObjectPermission.objects.filter(
        user=user, permission=permission, content_type=permission.content_type, object_pk=str(obj.pk)
    ).first()
    if existing is not None:
        raise ValidationError(f"{user} already has this access to {obj}", code="duplicate", field="user")
    grant = UserObjectPermission(
        user=user, permission=permission, content_type=permission.content_type, object_pk=str(obj.pk)
    )
    stamp(grant, actor=actor, reason=reason)
    grant.save()
    return grant


@transaction.atomic
def object_grant_delete(*, grant: UserObjectPermission, actor: AbstractBaseUser | None, reason: str) -> None:
    stamp(grant, actor=actor, reason=reason)
    grant.delete()
