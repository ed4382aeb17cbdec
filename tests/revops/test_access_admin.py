"""The admin pages that give per-object access, product lines, and the demo's users per role."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from guardian.models import UserObjectPermission

from catalog.models import ProductLine, RateCard
from catalog.services import rate_cards
from contracts.models import Customer
from revops import access
from revops.roles import ROLES, SALES, roles_setup

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(get_user_model().objects.create_superuser(username="root"))
    return client


@pytest.fixture
def rep(db):
    return get_user_model().objects.create_user(username="rep", is_staff=True)


def test_access_is_granted_with_a_reason_kept_in_the_history(admin_client, rep):
    acme = Customer.objects.create(external_id="acme", name="Acme", currency="USD")
    add = "/admin/guardian/userobjectpermission/add/"
    missing_reason = admin_client.post(add, {"grantee": rep.pk, "kind": "see_customer", "key": "acme"})
    assert missing_reason.status_code == 200 and not UserObjectPermission.objects.exists()

    made = admin_client.post(
        add, {"grantee": rep.pk, "kind": "see_customer", "key": "acme", "change_reason": "covers for Ann"}
    )
    assert made.status_code == 302
    assert access.may_see_customer(rep, acme)
    record = UserObjectPermission.history.get()
    assert (record.history_user.username, record.history_change_reason) == ("root", "covers for Ann")

    admin_client.post(
        add, {"grantee": rep.pk, "kind": "account_manager", "key": "acme", "change_reason": "new territory"}
    )
    acme.refresh_from_db()
    assert acme.account_manager == rep
    assert acme.history.latest().history_change_reason == "new territory"

    grant = UserObjectPermission.objects.get()
    admin_client.post(f"/admin/guardian/userobjectpermission/{grant.pk}/delete/", {"post": "yes"})
    assert not UserObjectPermission.objects.exists()
    assert UserObjectPermission.history.latest().history_type == "-"


def test_a_product_line_is_made_with_its_rate_cards(admin_client):
    card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=None)
    response = admin_client.post(
        "/admin/catalog/productline/add/",
        {"code": "core", "name": "Core", "rate_cards": [card.pk], "change_reason": "team split"},
    )
    assert response.status_code == 302
    line = ProductLine.objects.get(code="core")
    assert RateCard.objects.get(pk=card.pk).product_line == line
    assert RateCard.objects.get(pk=card.pk).history.latest().history_change_reason == "team split"


def test_demo_users_one_per_role_and_idempotent():
    from demo.users import load_users

    roles_setup()
    Customer.objects.create(external_id="acme-robotics", name="Acme", currency="USD")
    rate_cards.rate_card_create(code="standard-usd", name="Standard", currency="USD", actor=None)
    assert load_users(password="pw-demo-123") == [r.lower() for r in ROLES]
    load_users(password="pw-demo-123")
    User = get_user_model()
    assert User.objects.filter(username__in=[r.lower() for r in ROLES]).count() == len(ROLES)
    assert all(User.objects.get(username=r.lower()).groups.filter(name=r).exists() for r in ROLES)
    assert Customer.objects.get(external_id="acme-robotics").account_manager.username == SALES.lower()
    product = User.objects.get(username="product")
    assert access.may_edit_rate_card(product, RateCard.objects.get(code="standard-usd"))
    assert Client().login(username="auditor", password="pw-demo-123")
