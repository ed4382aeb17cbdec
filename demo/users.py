"""One demo login per role (username = the role in lower case), an account manager and a product manager."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from catalog.models import ProductLine, RateCard
from catalog.services import product_lines
from contracts.models import Customer
from revops.history import stamp
from revops.roles import ROLES, SALES

# The Sales demo user is the account manager of these customers and sees only them.
MANAGED_CUSTOMERS = ["acme-robotics", "bluepeak-health", "cobalt-legal"]
# The Product demo user owns this product line and edits only its rate cards' drafts.
PRODUCT_LINE = ("platform-usd", "Platform (USD)", ["standard-usd"])


def load_users(*, password: str) -> list[str]:
    User = get_user_model()
    usernames = []
    for role in ROLES:
        username = role.lower()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username=username, email=f"{username}@example.com", password=password, is_staff=True
            )
        user.groups.add(Group.objects.get(name=role))
        usernames.append(username)

    sales = User.objects.get(username=SALES.lower())
    for customer in Customer.objects.filter(external_id__in=MANAGED_CUSTOMERS, account_manager__isnull=True):
        customer.account_manager = sales
        stamp(customer, actor=None, reason="demo data: account manager")
        customer.save()

    code, name, cards = PRODUCT_LINE
    line = ProductLine.objects.filter(code=code).first() or product_lines.product_line_create(
        code=code, name=name, actor=None, reason="demo data"
    )
    for card in RateCard.objects.filter(code__in=cards, product_line__isnull=True):
        product_lines.rate_card_product_line_set(rate_card=card, product_line=line, actor=None, reason="demo data")
    product_lines.product_line_manager_grant(product_line=line, user=User.objects.get(username="product"))
    return usernames
