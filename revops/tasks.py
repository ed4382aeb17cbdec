"""Platform tasks. Domain tasks live in each app's tasks.py."""

from __future__ import annotations

import socket

from celery import shared_task
from django.db import connection


@shared_task(name="revops.worker_health")
def worker_health() -> dict[str, str]:
    """Proves a worker is alive and reaches the database; used by health checks and the broker test."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"worker": socket.gethostname(), "database": database}


@shared_task(name="revops.apply_approved_requests")
def apply_approved_requests() -> int:
    """Apply approved changes whose effective date has come (on beat); returns how many were looked at."""
    from revops import clock
    from revops.approvals.services import requests_apply_due

    return len(requests_apply_due(as_of=clock.now()))
