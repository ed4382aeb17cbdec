"""Product lines: which rate cards a product team owns, and who in it may edit their drafts."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from guardian.shortcuts import assign_perm

from catalog.models import ProductLine, RateCard, code_validator
from revops.errors import ValidationError
from revops.history import stamp

MANAGE = "catalog.manage_rate_cards"


@transaction.atomic
def product_line_create(
    *, code: str, name: str, actor: AbstractBaseUser | None, reason: str = "product line created"
) -> ProductLine:
    try:
        code_validator(code)
    except Exception:
        raise ValidationError("use 1-64 lower-case letters, digits, _ and -", field="code") from None
    if ProductLine.objects.filter(code=code).exists():
        raise ValidationError(f"a product line {code!r} already exists", code="duplicate", field="code")
    if not name.strip():
        raise ValidationError("a product line needs a name", field="name")
    line = ProductLine(code=code, name=name.strip())
    stamp(line, actor=actor, reason=reason)
    line.save()
    return line


@transaction.atomic
def rate_card_product_line_set(
    *, rate_card: RateCard, product_line: ProductLine | None, actor: AbstractBaseUser | None, reason: str
) -> RateCard:
    rate_card = RateCard.objects.select_for_update().get(pk=rate_card.pk)
    rate_card.product_line = product_line
    stamp(rate_card, actor=actor, reason=reason)
    rate_card.save()
    return rate_card


def product_line_manager_grant(*, product_line: ProductLine, user: AbstractBaseUser) -> None:
    """`user` may edit the drafts of this line's rate cards (with their role's model permissions)."""
    assign_perm(MANAGE, user, product_line)
