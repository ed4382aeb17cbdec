"""Create or update the role groups from revops/roles.py (idempotent; bootstrap runs it)."""

from django.core.management.base import BaseCommand, CommandError

from revops.roles import roles_setup


class Command(BaseCommand):
    help = "Create or update the role groups (Finance, RevOps, Sales, ...) with the permissions in revops/roles.py."

    def handle(self, *args, **options):
        try:
            counts = roles_setup()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for role, count in counts.items():
            self.stdout.write(f"role {role}: {count} permissions")
