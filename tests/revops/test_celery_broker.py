"""A real task through a real Celery worker on a real broker (Redis by default).

The worker runs as a separate process against the test database. Without a
reachable broker the test is skipped with the reason, except on CI (CI=true),
where a missing broker is a failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from urllib.parse import urlparse

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from revops.tasks import worker_health
from tests.support import current_database_url

BROKER_URL = os.environ.get("REVOPS_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


def _broker_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def celery_worker_process(transactional_db):
    if not _broker_reachable(BROKER_URL):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no broker answers at {BROKER_URL}")
        pytest.skip(f"no Celery broker reachable at {BROKER_URL} (start Redis or set REVOPS_TEST_BROKER_URL)")
    env = {
        **os.environ,
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_RESULT_BACKEND": BROKER_URL,
        "DATABASE_URL": current_database_url(),
        # Webhook tests' receivers listen on 127.0.0.1; the worker reads its settings from the environment.
        "REVOPS_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "revops",
            "worker",
            "--pool=solo",
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"test-{os.getpid()}@%h",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # A client app of its own, so the project's app (eager in tests) is left as it is. Not made the current
    # app: shared tasks bind to the current one, and would go to this broker in every later test.
    client = Celery("revops-test-client", broker=BROKER_URL, backend=BROKER_URL, set_as_current=False)
    try:
        yield worker, client
    finally:
        client.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_task_runs_on_a_real_worker_through_the_broker(celery_worker_process):
    worker, client = celery_worker_process
    result = client.send_task(worker_health.name)
    outcome = result.get(timeout=60)
    assert outcome["database"] == connection.settings_dict["NAME"]
    assert outcome["worker"] == socket.gethostname()
    assert worker.poll() is None  # still running: the task went through it, not in-process
