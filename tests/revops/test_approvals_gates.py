"""Each gated change below its threshold (done at once, as before) and above it (a pending request, done on
approval), with the diff and the money impact worked out by hand.

Acme (tests/revops/conftest.py) pays for October 2026: 10 seats x 40 = 400.00, and 5,000 credits less 1,000
included = 4,000 x 0.01 = 40.00; 440.00 in all. Its October invoice (nothing billed October before it) also
bills November's 10 seats in advance: 400.00 + 40.00 + 400.00 = 840.00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.models import CreditNote, InvoiceStatus
from billing.services.approvals import credit_note_propose, invoice_void_propose
from billing.services.invoices import invoice_compute, invoice_finalize, invoice_mark_paid
from catalog.models import VersionStatus
from catalog.services import rate_cards
from catalog.services.approvals import rate_card_version_activation_propose, rate_card_version_rollback
from contracts.models import Balance, Contract, ContractVersion
from contracts.services.approvals import balance_grant_propose, contract_amend_propose, contract_migrate_propose
from contracts.services.contracts import OverrideSpec, Terms
from revops.approvals.models import ApprovalRequest, GuardrailMode
from revops.approvals.policy import policy_get
from revops.approvals.policy_change import approval_policy_propose
from revops.approvals.services import request_approve
from revops.errors import Conflict, ValidationError
from revops.periods import Period
from tests.revops.conftest import NOW

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def set_policy(**values):
    policy = policy_get()
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()


# --- rate card activation: always approved; the diff and the impact on every contract following the card -------


def test_activation_diff_and_impact_on_last_periods_usage(priced, draft, maker, checker):
    request = rate_card_version_activation_propose(version=draft, actor=maker, as_of=NOW, reason="2027 prices")
    assert request.diff == [
        {"item": "credits", "field": "unit_price", "before": "0.01", "after": "0.012", "change_percent": "20"},
        {"item": "seat", "field": "unit_price", "before": "40", "after": "44", "change_percent": "10"},
    ]
    # October now: 440.00. On v2: 10 x 44 = 440.00 and 4,000 x 0.012 = 48.00, 488.00: 48.00 more.
    assert request.impact == {
        "currency": "USD",
        "rows": [
            {
                "contract": priced["contract"].pk,
                "customer": "acme",
                "period_start": "2026-10-01",
                "period_end": "2026-11-01",
                "before": "440.00",
                "after": "488.00",
                "difference": "48.00",
            }
        ],
        "before": "440.00",
        "after": "488.00",
        "difference": "48.00",
    }
    assert request.target == draft


def test_rollback_restores_an_earlier_version_as_a_new_one_through_approval(priced, draft, maker, checker):
    rate_cards.rate_card_version_activate(version=draft, actor=None, as_of=NOW)  # v2 in effect
    request = rate_card_version_rollback(
        version=priced["v1"], effective_from=dt.date(2027, 1, 1), actor=maker, as_of=NOW, reason="v2 sold badly"
    )
    v3 = priced["card"].versions.get(number=3)
    assert (v3.status, v3.based_on, v3.effective_from) == ("draft", priced["v1"], dt.date(2027, 1, 1))
    # Against v2, in effect: seats 44 -> 40 is -9.09%, credits 0.012 -> 0.01 is -16.67%.
    assert [(r["item"], r["before"], r["after"], r["change_percent"]) for r in request.diff] == [
        ("credits", "0.012", "0.01", "-16.67"),
        ("seat", "44", "40", "-9.09"),
    ]
    request_approve(request=request, actor=checker, as_of=NOW)
    v3.refresh_from_db()
    assert v3.status == VersionStatus.ACTIVE
    assert sorted((p.product.code, p.unit_price) for p in v3.prices.all()) == [("credits", D("0.01")), ("seat", D(40))]


def test_rollback_to_a_draft_is_refused(draft, maker):
    with pytest.raises(ValidationError) as refused:
        rate_card_version_rollback(
            version=draft, effective_from=dt.date(2027, 1, 1), actor=maker, as_of=NOW, reason="x"
        )
    assert refused.value.fields == {"version": ["roll back to a version that was in effect (an active one)"]}


# --- credit grants ------------------------------------------------------------------------------------------


def grant(contract, maker, kind, amount):
    return balance_grant_propose(
        contract=contract,
        kind=kind,
        amount=D(amount),
        starts_on=dt.date(2026, 11, 1),
        expires_on=dt.date(2027, 11, 1),
        as_of=NOW,
        actor=maker,
        reason="goodwill",
    )


def test_a_credit_below_the_threshold_is_granted_at_once(priced, maker):
    balance = grant(priced["contract"], maker, "credit", "5000")  # the USD threshold is 5,000: not above
    assert isinstance(balance, Balance) and balance.amount == D(5000)
    assert ApprovalRequest.objects.count() == 0


def test_a_credit_above_the_threshold_waits_for_approval(priced, maker, checker):
    request = grant(priced["contract"], maker, "credit", "5000.01")
    assert isinstance(request, ApprovalRequest) and Balance.objects.count() == 0
    assert request.diff == [
        {"item": f"contract {priced['contract'].pk}", "field": "credit granted", "before": None, "after": "5000.01"}
    ]
    assert request.impact["difference"] == "-5000.01"
    request = request_approve(request=request, actor=checker, as_of=NOW)
    balance = Balance.objects.get()
    assert (request.status, balance.amount, balance.kind) == ("applied", D("5000.01"), "credit")
    assert balance.reason.startswith("goodwill (request #")


def test_a_commitment_is_never_held_and_a_currency_without_a_threshold_always_is(priced, maker):
    assert isinstance(grant(priced["contract"], maker, "commit", "100000"), Balance)
    set_policy(credit_grant_thresholds={"EUR": "5000"})
    assert isinstance(grant(priced["contract"], maker, "credit", "1"), ApprovalRequest)


def test_a_bad_grant_is_refused_at_once_not_after_approval(priced, maker):
    with pytest.raises(ValidationError) as refused:
        balance_grant_propose(
            contract=priced["contract"],
            kind="credit",
            amount=D(9000),
            starts_on=dt.date(2026, 11, 1),
            expires_on=dt.date(2026, 10, 1),
            as_of=NOW,
            actor=maker,
        )
    assert refused.value.code == "dates_out_of_order"
    assert ApprovalRequest.objects.count() == 0


# --- voids and credit notes ---------------------------------------------------------------------------------


@pytest.fixture
def invoice(priced):
    draft = invoice_compute(contract=priced["contract"], period=OCTOBER, as_of=NOW)
    final = invoice_finalize(invoice=draft, as_of=NOW, actor=None)
    assert final.total == D("840.00")  # October's seats and credits, November's seats in advance
    return final


def test_a_void_below_the_threshold_happens_at_once(invoice, maker):
    voided = invoice_void_propose(invoice=invoice, reason="duplicate", as_of=NOW, actor=maker)
    assert voided.status == InvoiceStatus.VOID


def test_a_void_above_the_threshold_waits_then_voids(invoice, maker, checker):
    set_policy(void_thresholds={"USD": "839.99"})  # just below the invoice's 840.00
    request = invoice_void_propose(invoice=invoice, reason="duplicate", as_of=NOW, actor=maker)
    invoice.refresh_from_db()
    assert (request.status, invoice.status) == ("pending", "finalized")
    assert [(r["field"], r["before"], r["after"]) for r in request.diff] == [
        ("status", "finalized", "void"),
        ("amount owed", "840", "0"),
    ]
    assert request.impact == {
        "currency": "USD",
        "rows": [{"customer": "acme", "contract": invoice.contract_id, "difference": "-840.00"}],
        "difference": "-840.00",
    }
    request_approve(request=request, actor=checker, as_of=NOW)
    invoice.refresh_from_db()
    assert invoice.status == "void" and invoice.void_reason.startswith("duplicate (request #")


def test_voiding_an_invoice_paid_meanwhile_is_stale(invoice, maker, checker):
    set_policy(void_thresholds={"USD": "100"})
    request = invoice_void_propose(invoice=invoice, reason="duplicate", as_of=NOW, actor=maker)
    invoice_mark_paid(invoice=invoice, reference="wire 42", as_of=NOW, actor=None)
    with pytest.raises(Conflict) as stale:
        request_approve(request=request, actor=checker, as_of=NOW)
    assert stale.value.code == "stale_request"
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_a_credit_note_below_the_threshold_is_issued_at_once(invoice, maker):
    line = invoice.lines.get(position=1)
    note = credit_note_propose(
        invoice=invoice, reason="two seats unused", as_of=NOW, actor=maker, lines=[(line, D(80))]
    )
    assert isinstance(note, CreditNote) and note.total == D(80)


def test_a_credit_note_above_the_threshold_waits_then_is_issued(invoice, maker, checker):
    set_policy(void_thresholds={"USD": "400"})
    request = credit_note_propose(invoice=invoice, reason="outage", as_of=NOW, actor=maker)  # everything: 840.00
    assert isinstance(request, ApprovalRequest) and CreditNote.objects.count() == 0
    assert request.impact["difference"] == "-840.00"
    assert [r["after"] for r in request.diff] == ["400", "40", "400"]  # October's seats, credits, November's seats
    request_approve(request=request, actor=checker, as_of=NOW)
    assert CreditNote.objects.get().total == D("840.00")


# --- discounts beyond policy --------------------------------------------------------------------------------


def amend(contract, maker, *overrides):
    return contract_amend_propose(
        contract=contract,
        effective_from=dt.date(2026, 12, 1),
        actor=maker,
        reason="renewal",
        terms=Terms(overrides=list(overrides)),
        as_of=NOW,
    )


def test_a_discount_within_policy_amends_at_once(priced, maker):
    version = amend(priced["contract"], maker, OverrideSpec("discount", priced["seat"], discount_percent=D(30)))
    assert isinstance(version, ContractVersion) and version.number == 2


def test_a_discount_beyond_policy_waits_with_its_impact(priced, maker, checker):
    contract = priced["contract"]
    request = amend(contract, maker, OverrideSpec("discount", priced["seat"], discount_percent=D(40)))
    assert isinstance(request, ApprovalRequest) and contract.versions.count() == 1
    assert request.escalation == "40% off seat is above the maximum discount of 30%"
    # October with 40% off seats: 10 x 40 x 0.6 = 240.00 + 40.00 credits = 280.00, 160.00 less than 440.00.
    row = request.impact["rows"][0]
    assert (row["before"], row["after"], row["difference"]) == ("440.00", "280.00", "-160.00")
    assert contract.versions.get().overrides.count() == 0  # the what-if pricing left nothing behind
    request_approve(request=request, actor=checker, as_of=NOW)
    v2 = contract.versions.get(number=2)
    assert [(o.kind, o.discount_percent) for o in v2.overrides.all()] == [("discount", D(40))]


def test_multipliers_and_replacement_prices_count_as_discounts(priced, maker):
    contract = priced["contract"]
    assert isinstance(amend(contract, maker, OverrideSpec("multiplier", None, multiplier=D("0.5"))), ApprovalRequest)
    cheap = {"model": "per_unit", "unit_price": "0.002"}  # 80% off 0.01
    request = amend(contract, maker, OverrideSpec("replace", priced["credits"], price=cheap))
    assert request.escalation == "80% off credits is above the maximum discount of 30%"
    dearer = {"model": "per_unit", "unit_price": "0.02"}
    assert isinstance(amend(contract, maker, OverrideSpec("replace", priced["credits"], price=dearer)), ContractVersion)


def test_the_guardrail_can_block_a_discount_instead(priced, maker):
    set_policy(guardrail_mode=GuardrailMode.BLOCK)
    with pytest.raises(ValidationError) as blocked:
        amend(priced["contract"], maker, OverrideSpec("discount", priced["seat"], discount_percent=D(40)))
    assert blocked.value.code == "discount_above_maximum"
    assert blocked.value.fields == {
        "terms.overrides.0.discount_percent": ["40% off seat is above the maximum discount of 30%"]
    }
    assert ApprovalRequest.objects.count() == 0 and priced["contract"].versions.count() == 1


def test_an_amendment_overtaken_by_another_is_stale(priced, maker, checker):
    contract = priced["contract"]
    request = amend(contract, maker, OverrideSpec("discount", priced["seat"], discount_percent=D(40)))
    amend(contract, maker, OverrideSpec("discount", priced["seat"], discount_percent=D(10)))
    with pytest.raises(Conflict):
        request_approve(request=request, actor=checker, as_of=NOW)
    assert contract.versions.count() == 2


# --- bulk migrations ----------------------------------------------------------------------------------------


def test_a_bulk_migration_needs_approval_unless_the_policy_says_not(priced, draft, maker, checker):
    rate_cards.rate_card_version_activate(version=draft, actor=None, as_of=NOW)
    contract = priced["contract"]
    request = contract_migrate_propose(contracts=[contract], to_version=draft, actor=maker, reason="move", as_of=NOW)
    assert request.diff[0]["before"] == "std (follows)" and request.diff[0]["after"] == "std v2"
    assert (request.impact["before"], request.impact["after"]) == ("440.00", "488.00")
    contract.refresh_from_db()
    assert contract.pinned_version is None
    request_approve(request=request, actor=checker, as_of=NOW)
    contract.refresh_from_db()
    assert contract.pinned_version == draft

    set_policy(migration_needs_approval=False)
    moved = contract_migrate_propose(
        contracts=[contract], to_version=priced["v1"], actor=maker, reason="back", as_of=NOW
    )
    assert moved == [Contract.objects.get(pinned_version=priced["v1"])]


# --- the policy itself --------------------------------------------------------------------------------------


def test_a_policy_change_is_approved_like_any_other(maker, checker):
    request = approval_policy_propose(
        values={"void_thresholds": {"USD": "100"}, "guardrail_mode": "block"}, actor=maker, reason="tighter", as_of=NOW
    )
    assert policy_get().void_thresholds == {"USD": "5000", "EUR": "5000", "GBP": "5000"}
    assert request.diff == [
        {"item": "policy", "field": "void_thresholds", "before": {"USD": "5000", "EUR": "5000", "GBP": "5000"},
         "after": {"USD": "100"}},
        {"item": "policy", "field": "guardrail_mode", "before": "escalate", "after": "block"},
    ]  # fmt: skip
    request_approve(request=request, actor=checker, as_of=NOW)
    assert (policy_get().void_thresholds, policy_get().guardrail_mode) == ({"USD": "100"}, "block")


def test_a_bad_policy_change_is_refused_naming_the_field(maker):
    with pytest.raises(ValidationError) as refused:
        approval_policy_propose(
            values={"approvers_required": {"invoice.void": 3}, "void_thresholds": {"usd": "x"}, "colour": 1},
            actor=maker,
            reason="x",
            as_of=NOW,
        )
    assert refused.value.fields == {
        "approvers_required": ["invoice.void: 1 or 2 approvers, not 3"],
        "void_thresholds": ["'usd' is not an ISO 4217 code"],
        "colour": ["not a policy setting"],
    }
    with pytest.raises(ValidationError) as same:
        approval_policy_propose(values={"guardrail_mode": "escalate"}, actor=maker, reason="x", as_of=NOW)
    assert same.value.code == "no_change"


def test_signing_with_a_discount_beyond_policy_waits_then_signs(priced, maker, checker):
    from contracts.models import Customer
    from contracts.services.approvals import contract_create_propose

    beta = Customer.objects.create(external_id="beta", name="Beta", currency="USD")
    request = contract_create_propose(
        customer=beta,
        rate_card=priced["card"],
        start_date=dt.date(2026, 12, 1),
        actor=maker,
        as_of=NOW,
        terms=Terms(overrides=[OverrideSpec("discount", priced["seat"], discount_percent=D(35))]),
        subscriptions=[(priced["seat"], D(3))],
        reason="launch partner",
    )
    assert isinstance(request, ApprovalRequest) and not beta.contracts.exists()
    assert request.escalation == "35% off seat is above the maximum discount of 30%"
    request_approve(request=request, actor=checker, as_of=NOW)
    contract = beta.contracts.get()
    assert [(o.kind, o.discount_percent) for o in contract.versions.get().overrides.all()] == [("discount", D(35))]
    assert [(s.product.code, s.quantity) for s in contract.subscription_changes.all()] == [("seat", D(3))]
    within = contract_create_propose(
        customer=beta, rate_card=priced["card"], start_date=dt.date(2027, 1, 1), actor=maker, as_of=NOW
    )
    assert isinstance(within, Contract)
