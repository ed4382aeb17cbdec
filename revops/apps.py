from django.apps import AppConfig


class RevopsConfig(AppConfig):
    name = "revops"
    verbose_name = "Platform (API keys, approvals)"

    def ready(self) -> None:
        from revops.approvals import policy_change  # noqa: F401  (registers the policy-change kind)
