"""Every role against every sensitive operation, in the API and the admin: allowed or refused, from one table.

A user per role (a staff member in that one group, as revops/roles.py defines it) runs each operation
on the same small world. Allowed: the operation succeeds and leaves its mark. Refused: 403 (or 404 for
what the user may not even see) and the database is exactly as before, history included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from billing.credit_notes import CreditNote
from billing.models import Invoice, InvoiceStatus
from billing.services.invoices import invoice_compute, invoice_finalize
from catalog.models import RateCard, RateCardVersion
from catalog.services import product_lines, rate_cards
from catalog.services.approvals import rate_card_version_activation_propose
from contracts.models import Contract, ContractVersion, Customer, LedgerEntry
from revops import clock, grants
from revops.approvals.models import ApprovalRequest
from revops.audit.selectors import AuditFilter, audit_log_count
from revops.models import ApiKey
from revops.roles import APPROVER, AUDITOR, FINANCE, PRODUCT, REVOPS, ROLES, SALES, SUPPORT, roles_setup
from tests.billing.conftest import contract  # noqa: F401 (the shared billing world: USD card std, customer acme)
from tests.billing.support import CLOSE, NOVEMBER, use

pytestmark = pytest.mark.django_db

API = "/api/v1"
ALL = set(ROLES)


@pytest.fixture
def world(contract):  # noqa: F811
    """acme (managed by the Sales user, visible to the Support user), globex (nobody's), a November invoice,
    a draft v2 of std (in the Product user's line) and a draft of another card (not in it)."""
    roles_setup()
    User = get_user_model()
    users = {}
    for role in ROLES:
        user = User.objects.create_user(username=role.lower(), is_staff=True)  # no password: hashing is slow
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    acme = contract.customer
    grants.object_grant_create(user=users[SALES], kind="account_manager", key="acme", actor=None, reason="setup")
    grants.object_grant_create(user=users[SUPPORT], kind="see_customer", key="acme", actor=None, reason="setup")
    Customer.objects.create(external_id="globex", name="Globex", currency="USD")

    std = contract.rate_card
    line = product_lines.product_line_create(code="core", name="Core", actor=None)
    product_lines.rate_card_product_line_set(rate_card=std, product_line=line, actor=None, reason="setup")
    grants.object_grant_create(user=users[PRODUCT], kind="manage_product_line", key="core", actor=None, reason="x")
    rate_cards.rate_card_version_create(
        rate_card=std, effective_from=dt.date(2027, 1, 1), copy_prices=False, actor=None
    )
    other = rate_cards.rate_card_create(code="other", name="Other", currency="USD", actor=None)
    rate_cards.rate_card_version_create(rate_card=other, effective_from=dt.date(2027, 1, 1), actor=None)

    use(5, 1000)
    invoice = invoice_compute(contract=contract, period=NOVEMBER, as_of=CLOSE)
    return {"users": users, "contract": contract, "invoice": invoice, "acme": acme}


def finalized(world) -> None:
    invoice_finalize(invoice=world["invoice"], as_of=CLOSE, actor=None)


def state() -> tuple:
    """What any write would leave behind: a history row at least, or a row in an unaudited table."""
    return (
        audit_log_count(AuditFilter()),
        list(Invoice.objects.order_by("pk").values_list("status", "paid_at")),
        CreditNote.objects.count(),
        LedgerEntry.objects.count(),
        ApiKey.objects.count(),
        list(RateCardVersion.objects.order_by("pk").values_list("status", flat=True)),
    )


@dataclass(frozen=True)
class Case:
    name: str
    allowed: set[str]
    run: Callable  # (client, world) -> response
    done: Callable | None = None  # (world) -> bool: the allowed operation really happened
    setup: Callable | None = None
    admin: bool = False


def api_post(path: str, body: dict | None = None):
    return lambda c, w: c.post(API + path.format(**ids(w)), body or {}, format="json")


def api_get(path: str):
    return lambda c, w: c.get(API + path.format(**ids(w)))


def ids(w) -> dict:
    return {"contract": w["contract"].pk, "invoice": w["invoice"].pk}


def activation_requested() -> bool:
    """Activating asks for approval (maker-checker): the version stays a draft, a request waits."""
    version = RateCardVersion.objects.get(rate_card__code="std", number=2)
    return (
        version.status == "draft"
        and ApprovalRequest.objects.filter(
            kind="rate_card_version.activate", payload__version_id=version.pk, status="pending"
        ).exists()
    )


def pending_activation(w) -> None:
    """A RevOps user asked for v2's activation; an approver (someone else) decides."""
    CASES[0].setup(w)
    w["request"] = rate_card_version_activation_propose(
        version=RateCardVersion.objects.get(rate_card__code="std", number=2),
        actor=w["users"][REVOPS],
        as_of=clock.now(),
        reason="new seat price",
    )


def request_status(w) -> str:
    return ApprovalRequest.objects.get(pk=w["request"].pk).status


def invoice_status(w) -> str:
    return Invoice.objects.get(pk=w["invoice"].pk).status


CASES = [
    Case(
        "activate a rate card version",
        {REVOPS},
        api_post("/rate-cards/std/versions/2/activate"),
        done=lambda w: activation_requested(),
        setup=lambda w: rate_cards.price_set(
            version=RateCardVersion.objects.get(rate_card__code="std", number=2),
            product=w["contract"].rate_card.versions.get(number=1).prices.first().product,
            values={"model": "per_unit", "unit_price": D(45)},
            actor=None,
        ),
    ),
    Case(
        "set a price on a draft of a card in the Product user's line",
        {REVOPS, PRODUCT},
        api_post("/rate-cards/std/versions/2/prices", {"product": "seat", "model": "per_unit", "unit_price": "45"}),
        done=lambda w: RateCardVersion.objects.get(rate_card__code="std", number=2).prices.exists(),
    ),
    Case(
        "set a price on a draft of another line's card",
        {REVOPS},
        api_post("/rate-cards/other/versions/1/prices", {"product": "seat", "model": "per_unit", "unit_price": "45"}),
        done=lambda w: RateCardVersion.objects.get(rate_card__code="other", number=1).prices.exists(),
    ),
    Case(
        "create a contract",
        {REVOPS},
        api_post("/contracts", {"customer": "globex", "rate_card": "std", "start_date": "2026-12-01"}),
        done=lambda w: Contract.objects.filter(customer__external_id="globex").exists(),
    ),
    Case(
        "amend a contract with a discount",
        {REVOPS, SALES},
        api_post(
            "/contracts/{contract}/amendments",
            {
                "effective_from": "2026-12-01",
                "reason": "renewal discount",
                "terms": {"overrides": [{"kind": "discount", "product": "seat", "discount_percent": "10"}]},
            },
        ),
        done=lambda w: ContractVersion.objects.filter(contract=w["contract"], number=2).exists(),
    ),
    Case(
        "grant a credit",
        {FINANCE},
        api_post(
            "/contracts/{contract}/balances",
            {
                "kind": "credit",
                "amount": "100",
                "starts_on": "2026-12-01",
                "expires_on": "2027-12-01",
                "reason": "goodwill",
            },
        ),
        done=lambda w: w["contract"].balances.exists(),
    ),
    Case(
        "compute an invoice (an invoice run for one contract)",
        {FINANCE},
        api_post("/contracts/{contract}/invoices", {"period_start": "2026-10-01"}),
        done=lambda w: Invoice.objects.filter(contract=w["contract"], period_start="2026-10-01").exists(),
    ),
    Case(
        "finalize an invoice",
        {FINANCE},
        api_post("/invoices/{invoice}/finalize"),
        done=lambda w: invoice_status(w) == InvoiceStatus.FINALIZED,
    ),
    Case(
        "void an invoice",
        {FINANCE},
        api_post("/invoices/{invoice}/void", {"reason": "billed twice"}),
        done=lambda w: invoice_status(w) == InvoiceStatus.VOID,
        setup=finalized,
    ),
    Case(
        "issue a credit note",
        {FINANCE},
        api_post("/invoices/{invoice}/credit-notes", {"reason": "goodwill"}),
        done=lambda w: CreditNote.objects.exists(),
        setup=finalized,
    ),
    Case(
        "mark an invoice paid",
        {FINANCE},
        api_post("/invoices/{invoice}/mark-paid", {"reference": "wire 42"}),
        done=lambda w: invoice_status(w) == InvoiceStatus.PAID,
        setup=finalized,
    ),
    Case("read the audit log", {FINANCE, REVOPS, AUDITOR}, api_get("/audit")),
    Case("read an invoice", {FINANCE, REVOPS, AUDITOR, APPROVER, SUPPORT}, api_get("/invoices/{invoice}")),
    Case("read a customer they look after", ALL - {PRODUCT}, api_get("/customers/acme")),
    Case("read a customer of nobody's", {FINANCE, REVOPS, AUDITOR, APPROVER}, api_get("/customers/globex")),
    Case(
        "read a contract as it was",
        ALL - {PRODUCT},
        lambda c, w: c.get(f"{API}/audit/contracts/{w['contract'].pk}", {"as_of": clock.now().isoformat()}),
    ),
    # --- approvals (maker-checker) ---
    Case(
        "approve a pending request",
        {APPROVER},
        lambda c, w: c.post(f"{API}/approvals/{w['request'].pk}/approve", {"reason": "fine"}, format="json"),
        # a 12.5% price change on credits escalates to two approvers: this one's approval is recorded, one to go
        done=lambda w: w["request"].decisions.filter(approver=w["users"][APPROVER], verdict="approve").exists(),
        setup=pending_activation,
    ),
    Case(
        "reject a pending request",
        {APPROVER},
        lambda c, w: c.post(f"{API}/approvals/{w['request'].pk}/reject", {"reason": "too steep"}, format="json"),
        done=lambda w: request_status(w) == "rejected",
        setup=pending_activation,
    ),
    # --- the admin ---
    Case(
        "admin: activate a version (an admin action)",
        {REVOPS},
        lambda c, w: c.post(
            "/admin/catalog/ratecardversion/",
            {
                "action": "activate_versions",
                "_selected_action": [RateCardVersion.objects.get(rate_card__code="std", number=2).pk],
                "confirm": "yes",
                "change_reason": "approved",
            },
        ),
        done=lambda w: activation_requested(),
        setup=lambda w: CASES[0].setup(w),
        admin=True,
    ),
    Case(
        "admin: finalize an invoice",
        {FINANCE},
        lambda c, w: c.post(f"/admin/billing/invoice/{w['invoice'].pk}/finalize/", {"reason": "reviewed"}),
        done=lambda w: invoice_status(w) == InvoiceStatus.FINALIZED,
        admin=True,
    ),
    Case(
        "admin: create an API key",
        set(),  # superusers only: a key acts with its own user's rights
        lambda c, w: c.post(
            "/admin/revops/apikey/add/",
            {"name": "crm", "user": w["users"][FINANCE].pk, "scopes": ["read"], "change_reason": "crm sync"},
        ),
        done=lambda w: ApiKey.objects.exists(),
        admin=True,
    ),
    Case(
        "admin: read the audit log",
        {FINANCE, REVOPS, AUDITOR},
        lambda c, w: c.get("/admin/revops/auditlog/"),
        admin=True,
    ),
    Case(
        "admin: grant a credit",
        {FINANCE},
        lambda c, w: c.post(
            f"/admin/contracts/contract/{w['contract'].pk}/grant/",
            {
                "kind": "credit",
                "amount": "100",
                "starts_on": "2026-12-01",
                "expires_on": "2027-12-01",
                "priority": "100",
                "rollover_fraction": "0",
                "reason": "goodwill",
            },
        ),
        done=lambda w: w["contract"].balances.exists(),
        admin=True,
    ),
]


def client_for(user, *, admin: bool):
    client = Client(raise_request_exception=False) if admin else APIClient(headers={"X-Change-Reason": "matrix"})
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_role_against_operation(world, case, role):
    if case.setup:
        case.setup(world)
    before = state()
    with clock.frozen_at(CLOSE):
        response = case.run(client_for(world["users"][role], admin=case.admin), world)
    if role in case.allowed:
        assert response.status_code in (200, 201, 202, 302), (
            response.status_code,
            getattr(response, "content", b"")[:500],
        )
        if case.admin and response.status_code == 200 and case.done:
            pytest.fail(f"the admin page answered 200 (a form with errors?): {response.content[:1000]!r}")
        if case.done:
            assert case.done(world), ("allowed, but nothing happened", response.content[:800])
    else:
        # The API answers 403 (404 for what the user may not even see); the admin refuses an action the user
        # lacks by not offering it (the changelist again, or a redirect to it) and a page with 403.
        refusals = (200, 302, 403, 404) if case.admin and "action" in case.name else (403, 404)
        assert response.status_code in refusals, (response.status_code, getattr(response, "content", b"")[:500])
        assert state() == before, "refused, yet the database changed"
        if case.done:
            assert not case.done(world)


def test_every_api_operation_is_in_the_rule_table():
    """A view nobody mapped refuses staff (fail closed); this names any, so the table stays whole."""
    from django.urls import get_resolver

    from revops.api.rules import API_RULES

    def views(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from views(p.url_patterns, prefix + str(p.pattern))
            elif hasattr(p.callback, "view_class"):
                yield prefix + str(p.pattern), p.callback.view_class

    missing = sorted(
        {
            cls.__name__
            for route, cls in views(get_resolver().url_patterns)
            if route.startswith("api/v1/") and cls.__name__ not in API_RULES
        }
    )
    assert missing == []


def test_lists_show_an_account_manager_only_their_customers(world):
    sales = client_for(world["users"][SALES], admin=False)
    assert [c["external_id"] for c in sales.get(f"{API}/customers").json()["results"]] == ["acme"]
    finance = client_for(world["users"][FINANCE], admin=False)
    assert sorted(c["external_id"] for c in finance.get(f"{API}/customers").json()["results"]) == ["acme", "globex"]
    admin = client_for(world["users"][SALES], admin=True)
    page = admin.get("/admin/contracts/customer/")
    assert [c.external_id for c in page.context["cl"].result_list] == ["acme"]


def test_an_audited_api_write_without_a_reason_is_refused_and_changes_nothing(world):
    client = APIClient()
    client.force_login(world["users"][FINANCE])
    before = state()
    with clock.frozen_at(CLOSE):
        response = client.post(f"{API}/invoices/{world['invoice'].pk}/finalize", {}, format="json")
    assert response.status_code == 400
    assert (response.json()["error"]["code"], list(response.json()["error"]["fields"])) == (
        "reason_required",
        ["reason"],
    )
    assert state() == before
    with clock.frozen_at(CLOSE):
        ok = client.post(
            f"{API}/invoices/{world['invoice'].pk}/finalize", {}, format="json", headers={"X-Change-Reason": "Q4 close"}
        )
    assert ok.status_code == 200
    latest = Invoice.objects.get(pk=world["invoice"].pk).history.latest()
    assert (latest.history_user, latest.history_change_reason) == (world["users"][FINANCE], "Q4 close")


def test_product_line_ownership_is_what_lets_the_product_user_edit(world):
    other = RateCard.objects.get(code="other")
    client = client_for(world["users"][PRODUCT], admin=False)
    body = {"product": "seat", "model": "per_unit", "unit_price": "45"}
    refused = client.post(f"{API}/rate-cards/other/versions/1/prices", body, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_your_rate_card")
    grants.object_grant_create(user=world["users"][PRODUCT], kind="edit_rate_card", key="other", actor=None, reason="x")
    assert client.post(f"{API}/rate-cards/other/versions/1/prices", body, format="json").status_code == 201
    assert other.versions.get(number=1).prices.count() == 1
