"""The approval workflow: submit, approve, reject, cancel, and apply on the effective date.

Rules held here, so the admin and the API obey the same ones: the author never decides on their own
request (superusers included); a decider needs `revops.decide_approvalrequest`; a rejection needs a
reason; a request needs as many distinct approvers as it says (1 or 2); a stale request (its target
changed since it was made) cannot be approved and changes nothing; an approved change is applied on
its effective date (at once when that has come, else by the beat task `revops.apply_approved_requests`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import models, transaction

from revops.approvals import registry
from revops.approvals.models import ApprovalDecision, ApprovalRequest, RequestStatus, Verdict
from revops.approvals.policy import approvers_for
from revops.errors import Conflict, DomainError, PermissionDenied, ValidationError
from revops.history import stamp

DECIDE_PERMISSION = "revops.decide_approvalrequest"
OPEN = (RequestStatus.PENDING, RequestStatus.APPROVED)
log = logging.getLogger(__name__)


def may_decide(user: AbstractBaseUser | None) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm(DECIDE_PERMISSION))


def approvers() -> models.QuerySet:
    model_backend = "django.contrib.auth.backends.ModelBackend"  # guardian adds object permissions only
    return get_user_model().objects.with_perm(DECIDE_PERMISSION, backend=model_backend).filter(is_active=True)


@transaction.atomic
def request_submit(
    *,
    kind: str,
    target: models.Model | None,
    target_label: str,
    payload: dict[str, Any],
    diff: list[dict[str, Any]],
    actor: AbstractBaseUser | None,
    reason: str,
    effective_date: dt.date,
    as_of: dt.datetime,
    impact: dict[str, Any] | None = None,
    approvers_required: int | None = None,
    escalation: str = "",
) -> ApprovalRequest:
    """A pending request for a change the caller may not make at once. Nothing else changes yet."""
    if actor is None or not actor.is_authenticated:
        raise PermissionDenied("a change that needs approval needs a named author", code="author_required")
    if not reason.strip():
        raise ValidationError("say why: a request for approval needs a reason", field="reason")
    handler = registry.kind(kind)
    needed = max(approvers_for(kind), approvers_required or 1)
    request = ApprovalRequest(
        kind=kind,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=target.pk if target is not None else None,
        target_label=target_label[:300],
        payload=payload,
        fingerprint=handler.snapshot(payload),
        diff=diff,
        impact=impact if impact is not None else (handler.impact(payload, as_of.date()) if handler.impact else {}),
        approvers_required=min(needed, 2),
        escalation=escalation,
        author=actor,
        reason=reason.strip(),
        effective_date=effective_date,
        created_at=as_of,
    )
    stamp(request, actor=actor, reason="submitted for approval")
    request.save()
    _notify(request, "submitted")
    return request


def _lock(request: ApprovalRequest) -> ApprovalRequest:
    return ApprovalRequest.objects.select_for_update().get(pk=request.pk)


def _check_decider(request: ApprovalRequest, actor: AbstractBaseUser | None) -> None:
    if actor is not None and actor.pk == request.author_id:
        raise PermissionDenied("the author of a change cannot decide on it; another approver must", code="own_request")
    if not may_decide(actor):
        raise PermissionDenied("you are not an approver", code="not_an_approver")
    if request.status != RequestStatus.PENDING:
        raise Conflict(f"request #{request.pk} is {request.status}; only a pending one is decided", code="not_pending")
    if request.decisions.filter(approver=actor).exists():
        raise Conflict("you have decided on this request already; another approver must", code="already_decided")


def stale_reason(request: ApprovalRequest) -> str | None:
    """Why the request no longer fits its target (it changed since the request was made), or None."""
    try:
        now = registry.kind(request.kind).snapshot(request.payload)
    except Exception as exc:  # the target vanished or cannot be read any more: the request cannot hold
        return f"its target can no longer be read ({exc})"
    if now != request.fingerprint:
        return f"{request.target_label} changed after the request was made"
    return None


@transaction.atomic
def request_approve(
    *, request: ApprovalRequest, actor: AbstractBaseUser | None, as_of: dt.datetime, reason: str = ""
) -> ApprovalRequest:
    """Record an approval; with enough of them the change is approved, and applied if its date has come."""
    request = _lock(request)
    _check_decider(request, actor)
    stale = stale_reason(request)
    if stale:
        raise Conflict(
            f"request #{request.pk} is stale: {stale}. Nothing was changed; reject it and ask again.",
            code="stale_request",
        )
    ApprovalDecision.objects.create(request=request, approver=actor, verdict=Verdict.APPROVE, reason=reason, at=as_of)
    if request.decisions.filter(verdict=Verdict.APPROVE).count() < request.approvers_required:
        stamp(request, actor=actor, reason=f"approved by {actor.get_username()}; waiting for another approver")
        request.save()
        return request
    request.status = RequestStatus.APPROVED
    request.decided_at = as_of
    stamp(request, actor=actor, reason=f"approved by {actor.get_username()}")
    request.save()
    _notify(request, "approved")
    if request.effective_date <= as_of.date():
        _apply(request, as_of=as_of)  # a failure here rolls the approval back too: nothing changes
    return request


@transaction.atomic
def request_reject(
    *, request: ApprovalRequest, actor: AbstractBaseUser | None, reason: str, as_of: dt.datetime
) -> ApprovalRequest:
    request = _lock(request)
    _check_decider(request, actor)
    if not reason.strip():
        raise ValidationError("a rejection needs a reason, for the author", field="reason")
    ApprovalDecision.objects.create(
        request=request, approver=actor, verdict=Verdict.REJECT, reason=reason.strip(), at=as_of
    )
    request.status = RequestStatus.REJECTED
    request.decided_at = as_of
    request.outcome = f"rejected by {actor.get_username()}: {reason.strip()}"
    stamp(request, actor=actor, reason=request.outcome)
    request.save()
    _notify(request, "rejected")
    return request


@transaction.atomic
def request_cancel(
    *, request: ApprovalRequest, actor: AbstractBaseUser | None, as_of: dt.datetime, reason: str = ""
) -> ApprovalRequest:
    """The author withdraws a request not yet applied."""
    request = _lock(request)
    if actor is None or actor.pk != request.author_id:
        raise PermissionDenied("only the author can cancel a request", code="not_the_author")
    if request.status not in OPEN:
        raise Conflict(f"request #{request.pk} is {request.status}; it can no longer be cancelled", code="not_open")
    request.status = RequestStatus.CANCELLED
    request.outcome = f"cancelled by the author{': ' + reason.strip() if reason.strip() else ''}"
    stamp(request, actor=actor, reason=request.outcome)
    request.save()
    return request


def _apply(request: ApprovalRequest, *, as_of: dt.datetime) -> None:
    names = ", ".join(
        d.approver.get_username() for d in request.decisions.filter(verdict=Verdict.APPROVE).select_related("approver")
    )
    summary = registry.kind(request.kind).apply(
        request.payload,
        actor=request.author,
        as_of=as_of,
        reason=f"{request.reason} (request #{request.pk}, approved by {names})",
    )
    request.status = RequestStatus.APPLIED
    request.applied_at = as_of
    request.outcome = summary
    stamp(request, actor=request.author, reason="applied")
    request.save()
    _notify(request, "applied")


def request_apply_due(*, request: ApprovalRequest, as_of: dt.datetime) -> ApprovalRequest:
    """Apply one approved request whose date has come; a stale or refused one is marked failed, with why."""
    with transaction.atomic():
        request = _lock(request)
        if request.status != RequestStatus.APPROVED or request.effective_date > as_of.date():
            return request
        stale = stale_reason(request)
        if stale is None:
            try:
                with transaction.atomic():
                    _apply(request, as_of=as_of)
                return request
            except DomainError as exc:
                stale = exc.message
        request.status = RequestStatus.FAILED
        request.outcome = f"not applied: {stale}"
        stamp(request, actor=None, reason=request.outcome)
        request.save()
        _notify(request, "failed")
        return request


def requests_apply_due(*, as_of: dt.datetime) -> list[ApprovalRequest]:
    """Every approved request whose effective date has come, oldest first, each in its own transaction."""
    due = ApprovalRequest.objects.filter(status=RequestStatus.APPROVED, effective_date__lte=as_of.date())
    return [request_apply_due(request=r, as_of=as_of) for r in due.order_by("effective_date", "pk")]


def _notify(request: ApprovalRequest, event: str) -> None:
    """Tell the people concerned, once the transaction commits: approvers of a new request, the author of the rest."""
    if event == "submitted":
        recipients = [u.email for u in approvers().exclude(pk=request.author_id) if u.email]
        subject = f"Approval needed: {request}"
        body = (
            f"{request.author.get_username()} asks: {request.get_kind_display()} for {request.target_label}.\n"
            f"Reason: {request.reason}\nEffective: {request.effective_date}\n"
            f"Approvers needed: {request.approvers_required}\n"
        )
    else:
        recipients = [request.author.email] if request.author.email else []
        subject = f"Your request {request} is {event}"
        body = f"{request.get_kind_display()} for {request.target_label}: {event}.\n{request.outcome}\n"
    if recipients:
        transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=False))
    _notify_webhooks(request, event)


def _notify_webhooks(request: ApprovalRequest, event: str) -> None:
    """Other systems (a chat bot, a ticketing tool) hear of requests and decisions over webhooks."""
    from billing.webhooks.services import webhook_emit  # billing sits above revops: imported when used

    webhook_emit(
        event_type="approval.requested" if event == "submitted" else "approval.decided",
        data={
            "id": request.pk,
            "kind": request.kind,
            "event": event,
            "status": request.status,
            "target": request.target_label,
            "target_type": request.target_type.model if request.target_type_id else None,
            "target_id": request.target_id,
            "author": request.author.get_username(),
            "reason": request.reason,
            "effective_date": request.effective_date.isoformat(),
            "approvers_required": request.approvers_required,
            "outcome": request.outcome,
        },
        as_of=request.applied_at or request.decided_at or request.created_at,  # when what it reports happened
    )


class _RolledBack(Exception):
    pass


def dry_run(service, /, **kwargs: Any) -> None:
    """Run `service` and roll it back: every check it makes (its errors raise), none of its writes.

    A gated change is refused at once when it could never be applied, rather than after someone approved it.
    """
    try:
        with transaction.atomic():
            service(**kwargs)
            raise _RolledBack
    except _RolledBack:
        pass
