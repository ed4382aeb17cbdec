"""Second step of `make run`: serve the admin, API and docs on 127.0.0.1:8000.

With CELERY_BROKER_URL set it also starts a Celery worker and beat as child
processes (stopped with the server); without it, tasks run in-process.
"""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server (and a Celery worker and beat when CELERY_BROKER_URL is set)."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        children = []
        # Django's autoreloader re-runs this command in a child with RUN_MAIN=true: start Celery only once.
        if os.environ.get("RUN_MAIN") != "true":
            if settings.CELERY_BROKER_URL:
                celery = [sys.executable, "-m", "celery", "-A", "revops"]
                children.append(subprocess.Popen([*celery, "worker", "--loglevel=info", "--concurrency=2"]))
                children.append(subprocess.Popen([*celery, "beat", "--loglevel=info"]))
                self.stdout.write(f"Celery worker and beat started on {settings.CELERY_BROKER_URL}")
            else:
                self.stdout.write(
                    "CELERY_BROKER_URL is not set: background tasks run in-process (no worker, no beat schedule)."
                )
            self.stdout.write(
                f"admin: http://{addrport}/admin/  API: http://{addrport}/api/v1/  "
                f"docs: http://{addrport}/api/docs/  health: http://{addrport}/healthz"
            )
        try:
            call_command("runserver", addrport)
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                child.wait(timeout=30)
