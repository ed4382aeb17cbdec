"""Period-close runs in the admin: their progress (refreshing while one runs), a run's failures, chunks and
invoices, and "start a period close now" (behind a confirmation page). Read-only otherwise: runs are made
by the close itself."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing.models import Invoice, InvoiceRun, RunStatus
from billing.services.runs import CHUNK_SIZE, invoice_run_resume, invoice_run_start
from revops import clock
from revops.errors import DomainError

REFRESH_SECONDS = 3


def progress_bar(run: InvoiceRun) -> str:
    colour = {"running": "#417690", "finished": "#3a8a3a", "failed": "#ba2121"}.get(run.status, "#417690")
    return format_html(
        '<div title="{}/{} contracts" style="width:160px;background:#eee;border-radius:3px;display:inline-block;'
        'vertical-align:middle"><div style="width:{}%;background:{};height:10px;border-radius:3px"></div></div> {}%',
        run.contracts_done,
        run.contracts_total,
        run.percent_done,
        colour,
        run.percent_done,
    )


def elapsed(run: InvoiceRun) -> str:
    end = run.finished_at or (run.updated_at if run.status != RunStatus.RUNNING else clock.now())
    if end is None:
        return "-"
    seconds = max((end - run.started_at).total_seconds(), 0)
    return f"{seconds:,.1f} s" if seconds < 120 else f"{seconds / 60:,.1f} min"


class StartRunForm(forms.Form):
    chunk_size = forms.IntegerField(
        min_value=1, initial=CHUNK_SIZE, help_text="contracts per task; the workers take the chunks in turn"
    )


@admin.register(InvoiceRun)
class InvoiceRunAdmin(admin.ModelAdmin):
    list_display = ["run", "status", "progress", "contracts", "invoices_created", "invoices_made", "failed", "as_of"]
    list_display_links = ["run"]
    list_filter = ["status"]
    fields = [
        "status",
        "progress",
        "as_of",
        "started_by",
        "started_at",
        "finished_at",
        "updated_at",
        "duration",
        "contracts",
        "invoices_created",
        "invoices_made",
        "chunks",
    ]
    readonly_fields = fields
    change_list_template = "admin/billing/invoicerun/change_list.html"
    change_form_template = "admin/billing/invoicerun/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False  # a run is started with "start a period close now", never typed in

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def can_start(self, request) -> bool:
        return request.user.has_perm("billing.add_invoicerun")

    # --- display -----------------------------------------------------------------------------------------

    @admin.display(description="run", ordering="started_at")
    def run(self, obj: InvoiceRun) -> str:
        return f"Run {obj.pk} ({obj.started_at:%Y-%m-%d %H:%M:%S})"

    @admin.display(description="progress")
    def progress(self, obj: InvoiceRun) -> str:
        return progress_bar(obj)

    @admin.display(description="contracts done")
    def contracts(self, obj: InvoiceRun) -> str:
        return f"{obj.contracts_done:,} / {obj.contracts_total:,}"

    @admin.display(description="chunks done")
    def chunks(self, obj: InvoiceRun) -> str:
        return f"{obj.chunks_done:,} / {obj.chunks_total:,}"

    @admin.display(description="failures")
    def failed(self, obj: InvoiceRun) -> int:
        return len(obj.failures)

    @admin.display(description="time taken")
    def duration(self, obj: InvoiceRun) -> str:
        return elapsed(obj)

    # --- pages -------------------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path("start/", self.admin_site.admin_view(self.start_view), name="billing_invoicerun_start"),
            path(
                "<path:object_id>/resume/",
                self.admin_site.admin_view(self.resume_view),
                name="billing_invoicerun_resume",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        running = InvoiceRun.objects.filter(status=RunStatus.RUNNING).exists()
        context = {"refresh": REFRESH_SECONDS if running else None, "can_start": self.can_start(request)}
        return super().changelist_view(request, {**(extra_context or {}), **context})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        context = {}
        if run is not None:
            invoices = (
                Invoice.objects.filter(contract_id__in=self._contract_ids(run), finalized_at=run.as_of)
                .select_related("customer")
                .order_by("pk")
            )
            context = {
                "refresh": REFRESH_SECONDS if run.status == RunStatus.RUNNING else None,
                "failures": run.failures,
                "chunks": run.chunks.exclude(status="done").order_by("number")[:50],
                "chunks_by_status": self._chunk_counts(run),
                "invoices": invoices[:50],
                "invoices_count": invoices.count(),
                "can_resume": run.status == RunStatus.FAILED and self.can_start(request),
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **context})

    @staticmethod
    def _contract_ids(run: InvoiceRun) -> list[int]:
        ids: list[int] = []
        for part in run.chunks.values_list("contract_ids", flat=True):
            ids += part
        return ids

    @staticmethod
    def _chunk_counts(run: InvoiceRun) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in run.chunks.values_list("status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        return counts

    def start_view(self, request):
        if not self.can_start(request):
            raise PermissionDenied
        form = StartRunForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = invoice_run_start(
                    as_of=clock.now(), actor=request.user, chunk_size=form.cleaned_data["chunk_size"]
                )
            except DomainError as exc:
                messages.error(request, f"Nothing started: {exc.message}")
            else:
                self.log_addition(request, run, "period close started")
                messages.success(
                    request, f"Run {run.pk} started: {run.contracts_total:,} contracts in {run.chunks_total:,} chunks."
                )
                return HttpResponseRedirect(reverse("admin:billing_invoicerun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Start a period close now",
            "form": form,
            "now": clock.now(),
            "running": InvoiceRun.objects.filter(status=RunStatus.RUNNING).order_by("-started_at"),
        }
        return TemplateResponse(request, "admin/billing/invoicerun/start.html", context)

    def resume_view(self, request, object_id):
        run = self.get_object(request, object_id)
        if run is None or not self.can_start(request):
            raise PermissionDenied
        if request.method == "POST":
            try:
                queued = invoice_run_resume(run=run, now=clock.now())
            except DomainError as exc:
                messages.error(request, f"Nothing resumed: {exc.message}")
            else:
                messages.success(request, f"Run {run.pk}: {len(queued)} chunks queued again.")
        return HttpResponseRedirect(reverse("admin:billing_invoicerun_change", args=[run.pk]))
