"""First step of `make run`: migrate, load the demo data once, ensure the demo staff login, print it."""

from io import StringIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, load demo data (once), create the demo staff login and print it."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="skip the demo data")

    def handle(self, *args, no_demo=False, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        call_command("setup_roles", verbosity=0, stdout=StringIO())
        if not no_demo:
            call_command("demo_data", stdout=self.stdout)
        username, password = settings.REVOPS_DEMO_USERNAME, settings.REVOPS_DEMO_PASSWORD
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            User.objects.create_superuser(username=username, email=f"{username}@example.com", password=password)
        self.stdout.write(
            self.style.SUCCESS(f"demo staff login: {username} / {password}  (http://127.0.0.1:8000/admin/)")
        )
        if not no_demo:
            from demo.users import load_users

            roles = ", ".join(load_users(password=password))
            self.stdout.write(self.style.SUCCESS(f"demo role logins (password {password}): {roles}"))
