"""The beat task that applies approved changes, run by a real Celery worker through the broker.

Named to run after the other approval tests: a worker needs committed data (a transactional test), and the
flush after it empties the tables the migrations filled.
"""

from __future__ import annotations

import datetime as dt

from django_celery_beat.models import PeriodicTask

from catalog.models import RateCardVersion
from catalog.services.approvals import rate_card_version_activation_propose
from revops.approvals.models import ApprovalRequest
from revops.approvals.services import request_approve
from tests.revops.conftest import NOW
from tests.revops.test_celery_broker import celery_worker_process  # noqa: F401  (the worker fixture)


def test_the_beat_schedule_exists(db):
    task = PeriodicTask.objects.get(name="revops: apply approved changes")
    assert (task.task, task.interval.every, task.interval.period) == ("revops.apply_approved_requests", 15, "minutes")


def test_a_worker_applies_an_approved_change_once_its_date_has_come(celery_worker_process, draft, maker, checker):  # noqa: F811
    worker, client = celery_worker_process
    request = rate_card_version_activation_propose(
        version=draft, actor=maker, as_of=NOW, reason="2027 prices", effective_date=dt.date(2026, 11, 20)
    )
    request_approve(request=request, actor=checker, as_of=NOW)
    assert RateCardVersion.objects.get(pk=draft.pk).status == "draft"
    looked_at = client.send_task("revops.apply_approved_requests").get(timeout=60)  # the worker's clock: today
    assert looked_at == 1
    assert ApprovalRequest.objects.get(pk=request.pk).status == "applied"
    assert RateCardVersion.objects.get(pk=draft.pk).status == "active"
    assert worker.poll() is None
