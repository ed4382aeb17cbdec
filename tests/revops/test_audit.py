"""The audit trail: roles from one table, the log across history tables (API, CSV, admin), objects as they were."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.test import APIClient

from catalog.services import products, rate_cards
from revops import clock, history, roles
from revops.roles import AUDITOR, ROLES

pytestmark = pytest.mark.django_db
API = "/api/v1"
T1 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def test_setup_roles_is_idempotent_and_refuses_unknown_permissions(monkeypatch):
    call_command("setup_roles")
    call_command("setup_roles")
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    auditor = Group.objects.get(name=AUDITOR)
    assert not auditor.permissions.exclude(codename__startswith="view_").exists()  # reads only
    assert auditor.permissions.filter(codename="view_auditlog").exists()
    monkeypatch.setitem(roles.ROLES, "Auditor", [*roles.ROLES["Auditor"], "billing.view_nothing"])
    with pytest.raises(ValueError, match=r"billing\.view_nothing"):
        roles.roles_setup()


@pytest.fixture
def priced(db):
    """A seat priced 40 at T1 by alice, changed to 45 at T2 by bob with a reason."""
    User = get_user_model()
    alice = User.objects.create_user(username="alice")
    bob = User.objects.create_user(username="bob")
    with clock.frozen_at(T1):
        seat = products.product_create(code="seat", name="Seat", kind="subscription", actor=alice)
        card = rate_cards.rate_card_create(code="std", name="Standard", currency="USD", actor=alice)
        version = rate_cards.rate_card_version_create(rate_card=card, effective_from=dt.date(2026, 4, 1), actor=alice)
        price = rate_cards.price_set(
            version=version, product=seat, values={"model": "per_unit", "unit_price": D(40)}, actor=alice
        )
    with clock.frozen_at(T2), history.change_reason("list price rise"):
        rate_cards.price_set(
            version=version,
            product=seat,
            values={"model": "per_unit", "unit_price": D(45)},
            replace=True,
            actor=bob,
        )
    return {"card": card, "price": price, "alice": alice, "bob": bob}


@pytest.fixture
def auditor_client(db):
    roles.roles_setup()
    user = get_user_model().objects.create_user(username="auditor", is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITOR))
    client = APIClient()
    client.force_login(user)
    return client


def test_the_log_answers_who_changed_this_price_when_and_why(priced, auditor_client):
    body = auditor_client.get(f"{API}/audit", {"object_type": "price", "object_id": priced["price"].pk}).json()
    entries = body["results"]
    assert body["count"] == 2
    latest = entries[0]  # newest first
    assert (latest["actor"], latest["action"], latest["reason"]) == ("bob", "changed", "list price rise")
    assert {"field": "unit_price", "old": "40", "new": "45"} in latest["changes"]
    assert (entries[1]["actor"], entries[1]["action"]) == ("alice", "created")

    by_bob = auditor_client.get(f"{API}/audit", {"actor": "bob"}).json()
    assert {e["object_type"] for e in by_bob["results"]} == {"catalog.price"}
    created = auditor_client.get(f"{API}/audit", {"action": "created", "object_type": "catalog.ratecard"}).json()
    assert [e["object"] for e in created["results"]] == ["Standard [std]"]
    assert auditor_client.get(f"{API}/audit", {"actor": "nobody"}).json()["count"] == 0

    bad = auditor_client.get(f"{API}/audit", {"object_type": "spaceship"})
    assert (bad.status_code, list(bad.json()["error"]["fields"])) == (400, ["object_type"])

    exported = auditor_client.get(f"{API}/audit/export.csv", {"object_type": "price"})
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [(r["actor"], r["action"], r["reason"]) for r in rows] == [
        ("bob", "changed", "list price rise"),
        ("alice", "created", rows[1]["reason"]),
    ]
    assert 'unit_price: "40" -> "45"' in rows[0]["changes"]


def test_a_rate_card_reads_as_it_was_at_a_past_moment(priced, auditor_client):
    records = list(priced["price"].history.order_by("history_id"))
    between = records[0].history_date + (records[1].history_date - records[0].history_date) / 2
    then = auditor_client.get(f"{API}/audit/rate-cards/std", {"as_of": between.isoformat()}).json()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)  # history rows carry the real time
    now = auditor_client.get(f"{API}/audit/rate-cards/std", {"as_of": later.isoformat()}).json()
    assert then["versions"][0]["prices"][0]["unit_price"] == "40"
    assert now["versions"][0]["prices"][0]["unit_price"] == "45"
    before = records[0].history_date - dt.timedelta(days=1)
    missing = auditor_client.get(f"{API}/audit/rate-cards/std", {"as_of": before.isoformat()})
    assert missing.status_code == 404


def test_the_admin_audit_log_page_filters_and_exports(priced, db):
    from django.test import Client

    roles.roles_setup()
    user = get_user_model().objects.create_user(username="aud", is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITOR))
    client = Client()
    client.force_login(user)
    assert b"/admin/revops/auditlog/" in client.get("/admin/").content  # linked from the index
    page = client.get("/admin/revops/auditlog/", {"actor": "bob"})
    assert [e.reason for e in page.context["page"].object_list] == ["list price rise"]
    exported = client.get("/admin/revops/auditlog/", {"actor": "bob", "export": "csv"})
    assert exported["Content-Type"].startswith("text/csv") and b"list price rise" in exported.content
    card = priced["card"]
    history_page = client.get(f"/admin/catalog/ratecard/{card.pk}/history/")
    assert b"/admin/revops/auditlog/as-of/rate_card/std/" in history_page.content
    as_of = client.get(
        "/admin/revops/auditlog/as-of/rate_card/std/",
        {"as_of": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M")},
    )
    assert b"&quot;unit_price&quot;: &quot;45&quot;" in as_of.content
