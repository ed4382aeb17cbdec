"""The approval workflow's rules, on a rate card activation: nobody approves their own change, a policy can
ask for two approvers, a rejection needs a reason, a stale request changes nothing, a future date waits for
the beat task; approvers and authors are told by email."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from catalog.models import VersionStatus
from catalog.services import rate_cards
from catalog.services.approvals import rate_card_version_activation_propose
from revops.approvals.models import ActionKind, ApprovalDecision, RequestStatus
from revops.approvals.policy import policy_get
from revops.approvals.services import (
    request_approve,
    request_cancel,
    request_reject,
    requests_apply_due,
)
from revops.errors import Conflict, PermissionDenied, ValidationError
from revops.tasks import apply_approved_requests
from tests.revops.conftest import NOW


def ask(draft, maker, **kwargs):
    return rate_card_version_activation_propose(version=draft, actor=maker, as_of=NOW, reason="2027 prices", **kwargs)


def test_asking_changes_nothing_and_tells_the_approvers(
    draft, maker, checker, checker2, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = ask(draft, maker)
    draft.refresh_from_db()
    assert (request.status, draft.status) == (RequestStatus.PENDING, VersionStatus.DRAFT)
    assert (request.kind, request.author, request.approvers_required) == (ActionKind.VERSION_ACTIVATE, maker, 1)
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["checker-2@example.com", "checker@example.com"]
    assert "Approval needed" in mail.outbox[0].subject and "std v2" in mail.outbox[0].subject


def test_one_approval_activates_and_the_author_is_told(draft, maker, checker, django_capture_on_commit_callbacks):
    request = ask(draft, maker)
    with django_capture_on_commit_callbacks(execute=True):
        request = request_approve(request=request, actor=checker, as_of=NOW, reason="looks right")
    draft.refresh_from_db()
    assert (request.status, draft.status, draft.activated_by) == (RequestStatus.APPLIED, VersionStatus.ACTIVE, maker)
    assert request.outcome == "std v2 is active from 2026-12-01"
    reason = draft.history.order_by("-history_id").first().history_change_reason
    assert reason == f"2027 prices (request #{request.pk}, approved by checker)"
    assert [m.to for m in mail.outbox] == [["maker@example.com"], ["maker@example.com"]]  # approved, applied
    assert [h.status for h in request.history.order_by("history_id")] == ["pending", "approved", "applied"]


def test_the_author_cannot_approve_even_as_superuser(draft):
    boss = get_user_model().objects.create_superuser(username="boss", password="pw-boss-1234", email="b@x.com")
    request = ask(draft, boss)
    with pytest.raises(PermissionDenied) as refused:
        request_approve(request=request, actor=boss, as_of=NOW)
    assert refused.value.code == "own_request"
    request.refresh_from_db()
    draft.refresh_from_db()
    assert (request.status, draft.status, request.decisions.count()) == ("pending", "draft", 0)


def test_someone_without_the_permission_cannot_decide(draft, maker):
    other = get_user_model().objects.create_user(username="intern", is_staff=True)
    request = ask(draft, maker)
    with pytest.raises(PermissionDenied) as refused:
        request_approve(request=request, actor=other, as_of=NOW)
    assert refused.value.code == "not_an_approver"
    with pytest.raises(PermissionDenied):
        request_reject(request=request, actor=other, reason="no", as_of=NOW)
    assert ApprovalDecision.objects.count() == 0


def test_two_approvers_when_the_policy_says_so(draft, maker, checker, checker2):
    policy = policy_get()
    policy.approvers_required = {ActionKind.VERSION_ACTIVATE: 2}
    policy.save()
    request = ask(draft, maker)
    assert request.approvers_required == 2
    request = request_approve(request=request, actor=checker, as_of=NOW)
    draft.refresh_from_db()
    assert (request.status, draft.status) == ("pending", "draft")
    with pytest.raises(Conflict) as twice:
        request_approve(request=request, actor=checker, as_of=NOW)
    assert twice.value.code == "already_decided"  # the same person twice is still one approver
    request = request_approve(request=request, actor=checker2, as_of=NOW)
    draft.refresh_from_db()
    assert (request.status, draft.status) == ("applied", "active")


def test_a_rejection_needs_a_reason_and_tells_the_author(draft, maker, checker, django_capture_on_commit_callbacks):
    request = ask(draft, maker)
    with pytest.raises(ValidationError) as refused:
        request_reject(request=request, actor=checker, reason="  ", as_of=NOW)
    assert refused.value.fields == {"reason": ["a rejection needs a reason, for the author"]}
    request.refresh_from_db()
    assert request.status == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        request = request_reject(request=request, actor=checker, reason="seats too dear", as_of=NOW)
    draft.refresh_from_db()
    assert (request.status, draft.status) == ("rejected", "draft")
    assert request.outcome == "rejected by checker: seats too dear"
    assert mail.outbox[-1].to == ["maker@example.com"] and "rejected" in mail.outbox[-1].subject
    with pytest.raises(Conflict):
        request_approve(request=request, actor=checker, as_of=NOW)


def test_a_stale_request_cannot_be_approved_and_changes_nothing(priced, draft, maker, checker):
    request = ask(draft, maker)
    rate_cards.price_set(
        version=draft,
        product=priced["seat"],
        values={"model": "per_unit", "unit_price": D(45)},
        replace=True,
        actor=maker,
    )
    with pytest.raises(Conflict) as stale:
        request_approve(request=request, actor=checker, as_of=NOW)
    assert stale.value.code == "stale_request"
    assert "std v2 (from 2026-12-01) changed after the request was made" in stale.value.message
    request.refresh_from_db()
    draft.refresh_from_db()
    assert (request.status, draft.status, request.decisions.count()) == ("pending", "draft", 0)


def test_a_future_effective_date_waits_for_the_beat_task(draft, maker, checker):
    request = ask(draft, maker, effective_date=dt.date(2026, 11, 20))
    request = request_approve(request=request, actor=checker, as_of=NOW)
    draft.refresh_from_db()
    assert (request.status, draft.status) == ("approved", "draft")
    assert requests_apply_due(as_of=NOW + dt.timedelta(days=5)) == []  # the 15th: not yet
    draft.refresh_from_db()
    assert draft.status == "draft"
    [done] = requests_apply_due(as_of=dt.datetime(2026, 11, 20, 0, 15, tzinfo=dt.UTC))
    draft.refresh_from_db()
    assert (done.status, draft.status) == ("applied", "active")
    assert draft.activated_at == dt.datetime(2026, 11, 20, 0, 15, tzinfo=dt.UTC)


def test_a_request_gone_stale_before_its_date_fails_when_due(priced, draft, maker, checker):
    request = ask(draft, maker, effective_date=dt.date(2026, 11, 20))
    request_approve(request=request, actor=checker, as_of=NOW)
    rate_cards.rate_card_version_update(version=draft, effective_from=dt.date(2027, 1, 1), actor=maker, reason="later")
    [done] = requests_apply_due(as_of=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    draft.refresh_from_db()
    assert (done.status, draft.status) == ("failed", "draft")
    assert done.outcome == "not applied: std v2 (from 2026-12-01) changed after the request was made"


def test_the_task_applies_what_is_due(draft, maker, checker):
    request = ask(draft, maker, effective_date=dt.date(2026, 11, 12))
    request_approve(request=request, actor=checker, as_of=NOW)
    assert apply_approved_requests() == 1  # the project clock is past the 12th
    request.refresh_from_db()
    assert request.status == "applied"


def test_only_the_author_cancels(draft, maker, checker):
    request = ask(draft, maker)
    with pytest.raises(PermissionDenied):
        request_cancel(request=request, actor=checker, as_of=NOW)
    request = request_cancel(request=request, actor=maker, as_of=NOW, reason="wrong date")
    assert (request.status, request.outcome) == ("cancelled", "cancelled by the author: wrong date")
    with pytest.raises(Conflict):
        request_approve(request=request, actor=checker, as_of=NOW)


def test_a_version_cannot_be_asked_for_twice(draft, maker):
    ask(draft, maker)
    with pytest.raises(ValidationError) as twice:
        ask(draft, maker)
    assert twice.value.code == "already_requested"


def test_an_invalid_draft_is_refused_before_anyone_is_asked(priced, maker):
    empty = rate_cards.rate_card_version_create(
        rate_card=priced["card"], effective_from=dt.date(2027, 1, 1), copy_prices=False, actor=None
    )
    with pytest.raises(ValidationError) as refused:
        ask(empty, maker)
    assert refused.value.code == "no_prices"


def test_requests_and_decisions_are_sent_to_webhook_subscribers(draft, maker, checker):
    from billing.webhooks.models import WebhookEvent
    from billing.webhooks.services import webhook_endpoint_create

    webhook_endpoint_create(
        url="https://ops.example.com/hooks",
        event_types=["approval.requested", "approval.decided"],
        actor=None,
        as_of=NOW,
    )
    request = ask(draft, maker)
    request_approve(request=request, actor=checker, as_of=NOW, reason="looks right")
    approvals = WebhookEvent.objects.filter(type__startswith="approval.").order_by("pk")
    sent = [(e.type, json.loads(e.body)["data"]) for e in approvals]
    events = [(kind, data["event"], data["status"]) for kind, data in sent]
    assert events == [
        ("approval.requested", "submitted", "pending"),
        ("approval.decided", "approved", "approved"),
        ("approval.decided", "applied", "applied"),
    ]
    data = sent[0][1]
    assert (data["id"], data["kind"], data["author"], data["target"]) == (
        request.pk,
        "rate_card_version.activate",
        "maker",
        "std v2 (from 2026-12-01)",
    )
    assert all(e.deliveries.count() == 1 for e in approvals)
