"""Approvals over the API and in the admin: the same rules, whichever door a person comes through."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from billing.services.invoices import invoice_compute, invoice_finalize
from catalog.models import RateCardVersion
from revops import clock
from revops.approvals.models import ApprovalPolicy, ApprovalRequest
from revops.approvals.policy import policy_get
from revops.periods import Period
from revops.roles import APPROVER
from tests.revops.approval_support import role
from tests.revops.conftest import NOW

API = "/api/v1"


def api_as(user) -> APIClient:
    client = APIClient(headers={"X-Change-Reason": "approval tests"})  # audited writes say why
    client.force_login(user)
    return client


def admin_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def asked(draft, maker, checker, checker2):
    with clock.frozen_at(NOW):
        response = api_as(maker).post(f"{API}/rate-cards/std/versions/2/activate", {"reason": "2027"}, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def test_asking_over_the_api_answers_202_with_the_request(asked):
    assert (asked["kind"], asked["status"], asked["author"], asked["target_type"]) == (
        "rate_card_version.activate",
        "pending",
        "maker",
        "ratecardversion",
    )
    assert asked["impact"]["difference"] == "48.00"
    assert RateCardVersion.objects.get(number=2).status == "draft"


def test_the_queue_filters_mine_and_to_decide(asked, maker, checker):
    def ids(client, query):
        response = client.get(f"{API}/approvals{query}")
        assert response.status_code == 200, response.json()
        return [r["id"] for r in response.json()["results"]]

    assert ids(api_as(maker), "?mine=true") == [asked["id"]]
    assert ids(api_as(maker), "?to_decide=true") == []  # never one's own
    assert ids(api_as(checker), "?to_decide=true") == [asked["id"]]
    assert ids(api_as(checker), "?mine=true") == []
    assert ids(api_as(checker), "?status=applied") == []
    bad = api_as(checker).get(f"{API}/approvals?status=maybe")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_deciding_over_the_api(asked, maker, checker):
    maker.groups.add(role(APPROVER))  # an approver too: still never of their own change
    maker = type(maker).objects.get(pk=maker.pk)
    own = api_as(maker).post(f"{API}/approvals/{asked['id']}/approve", {}, format="json")
    assert (own.status_code, own.json()["error"]["code"]) == (403, "own_request")
    no_reason = api_as(checker).post(f"{API}/approvals/{asked['id']}/reject", {"reason": ""}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
    assert ApprovalRequest.objects.get().status == "pending"
    with clock.frozen_at(NOW):
        done = api_as(checker).post(f"{API}/approvals/{asked['id']}/approve", {"reason": "ok"}, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "applied"
    assert [(d["approver"], d["verdict"], d["reason"]) for d in done.json()["decisions"]] == [
        ("checker", "approve", "ok")
    ]
    assert RateCardVersion.objects.get(number=2).status == "active"


def test_an_api_key_acts_as_its_user_who_needs_the_permission(asked, write_client, read_client):
    refused = write_client.post(f"{API}/approvals/{asked['id']}/approve", {}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_an_approver")
    assert read_client.post(f"{API}/approvals/{asked['id']}/reject", {"reason": "x"}, format="json").status_code == 403
    assert read_client.get(f"{API}/approvals/{asked['id']}").status_code == 200
    assert APIClient().get(f"{API}/approvals").status_code in (401, 403)
    assert ApprovalRequest.objects.get().decisions.count() == 0


def test_rejecting_and_cancelling_over_the_api(asked, maker, checker):
    assert api_as(checker).post(f"{API}/approvals/{asked['id']}/cancel", {}, format="json").status_code == 403
    cancelled = api_as(maker).post(f"{API}/approvals/{asked['id']}/cancel", {"reason": "typo"}, format="json")
    assert cancelled.json()["status"] == "cancelled"
    late = api_as(checker).post(f"{API}/approvals/{asked['id']}/reject", {"reason": "no"}, format="json")
    assert (late.status_code, late.json()["error"]["code"]) == (409, "not_pending")
    assert api_as(checker).get(f"{API}/approvals/999999").status_code == 404


def test_the_policy_over_the_api(maker, checker):
    read = api_as(maker).get(f"{API}/approval-policy")
    assert read.json()["max_discount_percent"] == "30.000000"
    with clock.frozen_at(NOW):
        asked = api_as(maker).post(
            f"{API}/approval-policy", {"values": {"max_discount_percent": "15"}, "reason": "tighter"}, format="json"
        )
    assert asked.status_code == 202, asked.json()
    assert policy_get().max_discount_percent == 30
    with clock.frozen_at(NOW):
        api_as(checker).post(f"{API}/approvals/{asked.json()['id']}/approve", {}, format="json")
    assert policy_get().max_discount_percent == 15


def test_rollback_over_the_api(priced, maker):
    with clock.frozen_at(NOW):
        response = api_as(maker).post(
            f"{API}/rate-cards/std/versions/1/rollback",
            {"effective_from": "2027-01-01", "reason": "undo"},
            format="json",
        )
    assert response.status_code == 202, response.json()
    assert response.json()["target_label"] == "std v2 (from 2027-01-01)"


def test_a_large_void_over_the_api_waits(priced, maker):
    period = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    invoice = invoice_finalize(
        invoice=invoice_compute(contract=priced["contract"], period=period, as_of=NOW), as_of=NOW, actor=None
    )
    policy = policy_get()
    policy.void_thresholds = {"USD": "100"}
    policy.save()
    response = api_as(maker).post(f"{API}/invoices/{invoice.pk}/void", {"reason": "duplicate"}, format="json")
    assert response.status_code == 202, response.json()
    invoice.refresh_from_db()
    assert invoice.status == "finalized"


# --- the admin ----------------------------------------------------------------------------------------------


def admin_url(name: str, *args) -> str:
    return reverse(f"admin:revops_approvalrequest_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_admin_queue_shows_the_diff_and_impact(asked, maker, checker):
    queue = admin_as(checker).get(admin_url("changelist") + "?queue=to_decide")
    assert queue.status_code == 200 and "std v2 (from 2026-12-01)" in queue.content.decode()
    page = admin_as(checker).get(admin_url("change", asked["id"])).content.decode()
    assert "<td>seat</td><td>unit_price</td><td>40</td><td>44</td><td>+10%</td>" in page
    assert re.search(r"<td>440\.00</td><td>488\.00</td><td>48\.00</td>", page)
    assert admin_url("approve", asked["id"]) in page and admin_url("reject", asked["id"]) in page
    own = admin_as(maker).get(admin_url("change", asked["id"])).content.decode()
    assert admin_url("approve", asked["id"]) not in own and admin_url("cancel", asked["id"]) in own
    mine = admin_as(maker).get(admin_url("changelist") + "?queue=mine")
    assert mine.status_code == 200 and "std v2" in mine.content.decode()


def test_approving_and_rejecting_in_the_admin(asked, maker, checker, checker2):
    client = admin_as(checker)
    confirm = client.get(admin_url("reject", asked["id"]))
    assert confirm.status_code == 200 and "488.00" in confirm.content.decode()
    empty = client.post(admin_url("reject", asked["id"]), {"reason": ""})
    assert empty.status_code == 200 and "This field is required" in empty.content.decode()
    assert ApprovalRequest.objects.get().status == "pending"
    own = admin_as(maker).post(admin_url("approve", asked["id"]), {"reason": ""})
    assert any("the author of a change cannot decide on it" in m for m in messages_of(own))
    with clock.frozen_at(NOW):
        done = client.post(admin_url("approve", asked["id"]), {"reason": "fine"})
    assert done.status_code == 302
    assert ApprovalRequest.objects.get().status == "applied"
    assert RateCardVersion.objects.get(number=2).status == "active"


def test_rejecting_in_the_admin_with_a_reason(asked, checker):
    done = admin_as(checker).post(admin_url("reject", asked["id"]), {"reason": "too dear"})
    assert done.status_code == 302
    assert ApprovalRequest.objects.get().outcome == "rejected by checker: too dear"


def test_the_rollback_action_in_the_admin(priced, draft, maker, admin_client):
    changelist = reverse("admin:catalog_ratecardversion_changelist")
    form = admin_client.post(changelist, {"action": "rollback_versions", "_selected_action": [priced["v1"].pk]})
    assert form.status_code == 200 and 'value="rollback_versions"' in form.content.decode()
    done = admin_client.post(
        changelist,
        {
            "action": "rollback_versions",
            "_selected_action": [priced["v1"].pk],
            "confirm": "yes",
            "effective_from": "2027-02-01",
            "change_reason": "undo",
        },
    )
    assert done.status_code == 302
    request = ApprovalRequest.objects.get()
    assert request.target_label == "std v3 (from 2027-02-01)" and request.reason == "rollback to v1: undo"


def test_saving_the_policy_in_the_admin_asks_for_approval(maker, checker):
    maker.is_superuser = True
    maker.save()
    client = admin_as(maker)
    url = reverse("admin:revops_approvalpolicy_change", args=[1])
    assert client.get(url).status_code == 200
    data = {
        "approvers_required": "{}",
        "credit_grant_thresholds": '{"USD": "5000", "EUR": "5000", "GBP": "5000"}',
        "void_thresholds": '{"USD": "1000"}',
        "guardrail_mode": "escalate",
        "max_discount_percent": "30",
        "max_price_change_percent": "25",
        "migration_needs_approval": "on",
        "change_reason": "tighter voids",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    request = ApprovalRequest.objects.get()
    assert request.diff == [
        {"item": "policy", "field": "void_thresholds", "before": {"USD": "5000", "EUR": "5000", "GBP": "5000"},
         "after": {"USD": "1000"}},
    ]  # fmt: skip
    assert ApprovalPolicy.objects.get().void_thresholds["USD"] == "5000"


def test_signing_beyond_policy_over_the_api_answers_202(priced, maker):
    from contracts.models import Customer

    Customer.objects.create(external_id="beta", name="Beta", currency="USD")
    body = {
        "customer": "beta",
        "rate_card": "std",
        "start_date": "2026-12-01",
        "terms": {"overrides": [{"kind": "discount", "product": "seat", "discount_percent": "50"}]},
    }
    with clock.frozen_at(NOW):
        response = api_as(maker).post(f"{API}/contracts", body, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["kind"] == "contract.create"
    assert not Customer.objects.get(external_id="beta").contracts.exists()


def test_the_admin_grant_and_void_pages_obey_the_thresholds(priced, admin_client):
    contract = priced["contract"]
    grant = {
        "kind": "credit",
        "name": "goodwill",
        "amount": "6000",
        "starts_on": "2026-11-01",
        "expires_on": "2027-11-01",
        "priority": "100",
        "product": "",
        "rollover_fraction": "0",
        "reason": "outage",
    }
    response = admin_client.post(reverse("admin:contracts_contract_grant", args=[contract.pk]), grant)
    assert response.status_code == 302, response.context["form"].errors
    assert any("request #" in m and "awaits an approver" in m for m in messages_of(response))
    assert not contract.balances.exists()
    grant["amount"] = "50"
    admin_client.post(reverse("admin:contracts_contract_grant", args=[contract.pk]), grant)
    assert [b.amount for b in contract.balances.all()] == [50]

    period = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    invoice = invoice_finalize(
        invoice=invoice_compute(contract=contract, period=period, as_of=NOW), as_of=NOW, actor=None
    )
    policy = policy_get()
    policy.void_thresholds = {"USD": "100"}
    policy.save()
    voided = admin_client.post(reverse("admin:billing_invoice_void", args=[invoice.pk]), {"reason": "dup"})
    assert any("awaits an approver" in m for m in messages_of(voided))
    invoice.refresh_from_db()
    assert invoice.status == "finalized"
    assert ApprovalRequest.objects.filter(kind="invoice.void", status="pending").count() == 1
