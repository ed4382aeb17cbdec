from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = "Customers and contracts"

    def ready(self) -> None:
        from contracts.services import approvals  # noqa: F401  (registers the contract kinds with the workflow)
