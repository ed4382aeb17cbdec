from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self) -> None:
        from usage import approvals  # noqa: F401  (prices pending changes on usage for their approvers)
