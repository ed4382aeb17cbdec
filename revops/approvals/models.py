"""Approval policy (one row, edited only through approval), approval requests and their decisions."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from simple_history.models import HistoricalRecords


class ActionKind(models.TextChoices):
    VERSION_ACTIVATE = "rate_card_version.activate", "Activate a rate card version"
    CONTRACT_CREATE = "contract.create", "Sign a contract beyond the discount policy"
    CONTRACT_AMEND = "contract.amend", "Amend a contract beyond the discount policy"
    CREDIT_GRANT = "balance.grant_credit", "Grant a credit above the threshold"
    INVOICE_VOID = "invoice.void", "Void an invoice above the threshold"
    CREDIT_NOTE = "credit_note.create", "Issue a credit note above the threshold"
    CONTRACT_MIGRATE = "contracts.migrate", "Move contracts to another rate card version"
    POLICY_CHANGE = "approval_policy.change", "Change the approval policy"


class GuardrailMode(models.TextChoices):
    ESCALATE = "escalate", "Escalate: needs two approvers"
    BLOCK = "block", "Block the change"


def default_thresholds() -> dict[str, str]:
    return {"USD": "5000", "EUR": "5000", "GBP": "5000"}


class ApprovalPolicy(models.Model):
    """The thresholds. One row (pk 1), made by a migration; a change to it is itself approved.

    Thresholds per currency are {"USD": "5000"}: an amount above the currency's threshold needs
    approval; a currency without one needs approval for any amount (nothing slips through unseen).
    """

    max_discount_percent = models.DecimalField(
        max_digits=9, decimal_places=6, default=Decimal(30), help_text="a contract discount above this needs approval"
    )
    credit_grant_thresholds = models.JSONField(default=default_thresholds, blank=True, help_text='{"USD": "5000"}')
    void_thresholds = models.JSONField(
        default=default_thresholds,
        blank=True,
        help_text='invoice voids and credit notes above these need approval: {"USD": "5000"}',
    )
    migration_needs_approval = models.BooleanField(default=True)
    approvers_required = models.JSONField(
        default=dict, blank=True, help_text='approvers per action kind, 1 or 2: {"rate_card_version.activate": 2}'
    )
    max_price_change_percent = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        default=Decimal(25),
        help_text="a price moving more than this against the version in effect trips the guardrail; empty: no check",
    )
    guardrail_mode = models.CharField(max_length=16, choices=GuardrailMode.choices, default=GuardrailMode.ESCALATE)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        app_label = "revops"
        verbose_name_plural = "approval policy"

    def __str__(self) -> str:
        return "Approval policy"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved, waiting for its date"
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ApprovalRequest(models.Model):
    """A change waiting for approval: what to do (`payload`), what it changes (`diff`) and what it costs."""

    kind = models.CharField(max_length=64, choices=ActionKind.choices)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    target_label = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    fingerprint = models.JSONField(default=dict, help_text="the target as it was when asked; a change makes it stale")
    diff = models.JSONField(default=list, blank=True)
    impact = models.JSONField(default=dict, blank=True)
    approvers_required = models.PositiveSmallIntegerField(default=1)
    escalation = models.TextField(blank=True, help_text="why more approvers are needed than the policy's default")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_requests")
    reason = models.TextField()
    effective_date = models.DateField()
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, help_text="what applying did, or why it failed")
    history = HistoricalRecords()

    class Meta:
        app_label = "revops"
        ordering = ["-created_at", "-pk"]
        permissions = [("decide_approvalrequest", "Can approve or reject approval requests")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approvers_required__in=[1, 2]), name="approvalrequest_one_or_two_approvers"
            ),
        ]
        indexes = [models.Index(fields=["status", "effective_date"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}: {self.target_label}"


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class ApprovalDecision(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.PROTECT, related_name="decisions")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        app_label = "revops"
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "approver"], name="approvaldecision_once_per_approver"),
            models.CheckConstraint(
                condition=~models.Q(verdict="reject") | ~models.Q(reason=""), name="approvaldecision_reject_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.verdict}s #{self.request_id}"
