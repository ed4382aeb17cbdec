"""Manage the embedded PostgreSQL server (used when DATABASE_URL is unset)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from revops import dbserver


class Command(BaseCommand):
    help = "stop | uri of the embedded PostgreSQL server under .data/pg (any command starts it)"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["stop", "uri"])

    def handle(self, *args, action, **options):
        if not settings.REVOPS_EMBEDDED_DB:
            raise CommandError("DATABASE_URL is set: there is no embedded server to manage")
        if action == "uri":
            db = settings.DATABASES["default"]
            self.stdout.write(f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}")
        elif action == "stop":
            from django.db import connections

            connections.close_all()
            stopped = dbserver.stop(settings.BASE_DIR)
            self.stdout.write("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
