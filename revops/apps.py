from django.apps import AppConfig


class RevopsConfig(AppConfig):
    name = "revops"
    verbose_name = "Platform (API keys, approvals)"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in
        from django.utils import timezone

        from revops.approvals import policy_change  # noqa: F401  (registers the policy-change kind)

        # Users are audited (who holds which permission); a login is bookkeeping, not a change to audit.
        def record_last_login(sender, user, **kwargs):
            get_user_model().objects.filter(pk=user.pk).update(last_login=timezone.now())

        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        user_logged_in.connect(record_last_login, dispatch_uid="revops_record_last_login")
