"""The approver's queue in the admin: pending requests with their diff and money impact, approve or reject
with a reason, and "my requests". The policy is edited here too; saving it asks for approval."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from revops import clock
from revops.approvals import services
from revops.approvals.models import ApprovalPolicy, ApprovalRequest, RequestStatus, Verdict
from revops.approvals.policy import POLICY_FIELDS, policy_values
from revops.approvals.policy_change import approval_policy_propose
from revops.errors import DomainError

DECIDE_TEMPLATE = "admin/revops/approvalrequest/decide.html"


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("to_decide", "Waiting for my decision"), ("mine", "My requests")]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.filter(author=request.user)
        if self.value() == "to_decide":
            return queryset.filter(status=RequestStatus.PENDING).exclude(
                Q(author=request.user) | Q(decisions__approver=request.user)
            )
        return queryset


def _signed_percent(value: str | None) -> str:
    if value is None:
        return ""
    return f"{value}%" if value.startswith("-") or value == "0" else f"+{value}%"


def diff_table(request: ApprovalRequest) -> str:
    if not request.diff:
        return "—"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                row.get("item", ""),
                row.get("field", ""),
                "—" if row.get("before") is None else row["before"],
                "—" if row.get("after") is None else row["after"],
                _signed_percent(row.get("change_percent")),
            )
            for row in request.diff
        ),
    )
    return format_html(
        '<table class="approval-diff"><thead><tr><th>what</th><th>field</th><th>before</th><th>after</th>'
        "<th>change</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def impact_table(request: ApprovalRequest) -> str:
    impact = request.impact or {}
    if not impact.get("rows"):
        return "no contract is affected" if impact else "—"
    currency = impact.get("currency") or ""
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                row.get("customer", ""),
                row.get("contract", ""),
                f"{row['period_start']} to {row['period_end']}" if row.get("period_start") else "",
                row.get("before", ""),
                row.get("after", ""),
                row.get("difference", row.get("error", "")),
            )
            for row in impact["rows"]
        ),
    )
    total = format_html(
        "<tr><th colspan=3>total ({})</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        currency,
        impact.get("before", ""),
        impact.get("after", ""),
        impact.get("difference", ""),
    )
    return format_html(
        '<table class="approval-impact"><thead><tr><th>customer</th><th>contract</th><th>last period</th>'
        "<th>billed</th><th>with the change</th><th>difference</th></tr></thead><tbody>{}{}</tbody></table>",
        rows,
        total,
    )


class DecideForm(forms.Form):
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text=""
    )

    def __init__(self, *args: Any, required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        self.fields["reason"].help_text = "Required: the author is told why." if required else "Optional."


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(SimpleHistoryAdmin):
    list_display = ["id", "kind", "target_label", "author", "status", "approvals", "effective_date", "created_at"]
    list_filter = [QueueFilter, "status", "kind"]
    search_fields = ["target_label", "reason", "author__username"]
    list_select_related = ["author"]
    fields = [
        "kind",
        "status",
        "target_label",
        "author",
        "reason",
        "effective_date",
        "approvals",
        "escalation",
        "diff_",
        "impact_",
        "decisions_",
        "created_at",
        "decided_at",
        "applied_at",
        "outcome",
    ]
    readonly_fields = fields

    @admin.display(description="approvals")
    def approvals(self, obj: ApprovalRequest) -> str:
        return f"{obj.decisions.filter(verdict=Verdict.APPROVE).count()} of {obj.approvers_required}"

    @admin.display(description="what changes")
    def diff_(self, obj: ApprovalRequest) -> str:
        return diff_table(obj)

    @admin.display(description="money impact (last complete period)")
    def impact_(self, obj: ApprovalRequest) -> str:
        return impact_table(obj)

    @admin.display(description="decisions")
    def decisions_(self, obj: ApprovalRequest) -> str:
        decisions = obj.decisions.select_related("approver")
        if not decisions:
            return "—"
        return format_html_join(
            "",
            "<div>{} {} on {:%Y-%m-%d %H:%M}{}</div>",
            ((d.approver, d.verdict + "d", d.at, f": {d.reason}" if d.reason else "") for d in decisions),
        )

    def has_add_permission(self, request):
        return False  # requests are made by the changes that need them

    def _sees_all(self, request) -> bool:
        return super().has_view_permission(request) or services.may_decide(request.user)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        # Approvers see the whole queue; anyone else sees the requests they made.
        if self._sees_all(request):
            return True
        if obj is not None:
            return obj.author_id == request.user.pk
        return ApprovalRequest.objects.filter(author_id=request.user.pk).exists()

    def get_queryset(self, request):
        found = super().get_queryset(request)
        return found if self._sees_all(request) else found.filter(author_id=request.user.pk)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        def view(name: str, func):
            return path(
                f"<path:object_id>/{name}/", self.admin_site.admin_view(func), name=f"revops_approvalrequest_{name}"
            )

        own = [view("approve", self.approve_view), view("reject", self.reject_view), view("cancel", self.cancel_view)]
        return own + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra: dict[str, Any] = {}
        if obj is not None and obj.status == RequestStatus.PENDING:
            pages = []
            if services.may_decide(request.user) and obj.author_id != request.user.pk:
                pages += [("Approve…", "approve"), ("Reject…", "reject")]
            if obj.author_id == request.user.pk:
                pages.append(("Cancel my request…", "cancel"))
            extra["approval_pages"] = [
                (label, reverse(f"admin:revops_approvalrequest_{name}", args=[obj.pk])) for label, name in pages
            ]
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _request(self, request, object_id) -> ApprovalRequest:
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("no such approval request")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    def _decide(self, request, object_id, *, step: str, required: bool, perform):
        obj = self._request(request, object_id)
        change_url = reverse("admin:revops_approvalrequest_change", args=[obj.pk])
        form = DecideForm(request.POST if request.method == "POST" else None, required=required)
        if request.method == "POST" and form.is_valid():
            try:
                done = perform(obj, form.cleaned_data["reason"])
            except DomainError as exc:
                messages.error(request, f"Nothing changed: {exc.message}")
            else:
                messages.success(request, f"Request #{done.pk} is {done.get_status_display().lower()}.")
            return HttpResponseRedirect(change_url)
        return TemplateResponse(
            request,
            DECIDE_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": obj,
                "title": f"{step} request #{obj.pk}?",
                "step": step,
                "form": form,
                "diff": diff_table(obj),
                "impact": impact_table(obj),
                "change_url": change_url,
            },
        )

    def approve_view(self, request, object_id):
        return self._decide(
            request,
            object_id,
            step="Approve",
            required=False,
            perform=lambda obj, reason: services.request_approve(
                request=obj, actor=request.user, as_of=clock.now(), reason=reason
            ),
        )

    def reject_view(self, request, object_id):
        return self._decide(
            request,
            object_id,
            step="Reject",
            required=True,
            perform=lambda obj, reason: services.request_reject(
                request=obj, actor=request.user, as_of=clock.now(), reason=reason
            ),
        )

    def cancel_view(self, request, object_id):
        return self._decide(
            request,
            object_id,
            step="Cancel",
            required=False,
            perform=lambda obj, reason: services.request_cancel(
                request=obj, actor=request.user, as_of=clock.now(), reason=reason
            ),
        )


class ApprovalPolicyForm(forms.ModelForm):
    change_reason = forms.CharField(max_length=2000, label="Reason", help_text="Required: the change needs approval.")

    class Meta:
        model = ApprovalPolicy
        fields = sorted(POLICY_FIELDS)


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(SimpleHistoryAdmin):
    """Saving asks for approval: the policy changes only when another approver agrees."""

    form = ApprovalPolicyForm
    list_display = ["__str__", "max_discount_percent", "max_price_change_percent", "guardrail_mode", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in form.changed_data if name in POLICY_FIELDS}
        before = policy_values(ApprovalPolicy.objects.get(pk=obj.pk))
        values = {name: value for name, value in values.items() if before.get(name) != value}
        self._asked = approval_policy_propose(
            values=values, actor=request.user, reason=form.cleaned_data["change_reason"], as_of=clock.now()
        )

    def save_related(self, request, form, formsets, change):
        pass

    def log_change(self, request, obj, message):
        pass  # nothing changed yet; the request's own history records it

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            messages.error(request, f"Nothing changed: {exc.message}")
            return HttpResponseRedirect(request.path)

    def response_change(self, request, obj):
        asked = self._asked
        messages.success(request, f"The policy change awaits approval: request #{asked.pk}.")
        return HttpResponseRedirect(reverse("admin:revops_approvalrequest_change", args=[asked.pk]))

    def message_user(self, *args, **kwargs):
        if "was changed successfully" in str(args[1] if len(args) > 1 else kwargs.get("message", "")):
            return
        super().message_user(*args, **kwargs)
