from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing import checks  # noqa: F401  (registers the system checks)
        from billing.services import approvals  # noqa: F401  (registers voids and credit notes with the workflow)
