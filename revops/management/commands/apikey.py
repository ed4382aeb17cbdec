"""Create, list and revoke API keys from the shell. The secret is printed once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from revops import apikeys, clock
from revops.errors import DomainError
from revops.models import ApiKey


class Command(BaseCommand):
    help = "API keys: create --name N [--user U] --scope ingest|read|write ...; list; revoke PREFIX"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--name", required=True)
        create.add_argument("--user", help="username the key acts as; default: a service user named svc-<name>")
        create.add_argument(
            "--scope", action="append", dest="scopes", required=True, choices=["ingest", "read", "write"]
        )
        sub.add_parser("list")
        revoke = sub.add_parser("revoke")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _create(self, *, name, user, scopes, **_):
        User = get_user_model()
        if user:
            account = User.objects.filter(username=user).first()
            if account is None:
                raise CommandError(f"no user {user!r}")
        else:
            account, _ = User.objects.get_or_create(username=f"svc-{name}"[:150], defaults={"is_active": True})
        created = apikeys.api_key_create(name=name, user=account, scopes=scopes, actor=None)
        self.stdout.write(f"API key {name!r} acting as {account.username}, scopes {', '.join(created.api_key.scopes)}")
        self.stdout.write("Copy it now; it is not shown again:")
        self.stdout.write(created.secret)

    def _list(self, **_):
        for key in ApiKey.objects.select_related("user").order_by("pk"):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            self.stdout.write(
                f"{key.prefix}  {key.name:30}  {key.user.username:20}  {','.join(key.scopes):20}  {state}"
            )

    def _revoke(self, *, prefix, **_):
        key = ApiKey.objects.filter(prefix=prefix).first()
        if key is None:
            raise CommandError(f"no API key with prefix {prefix!r}")
        apikeys.api_key_revoke(api_key=key, actor=None, as_of=clock.now())
        self.stdout.write(f"revoked {key}")
