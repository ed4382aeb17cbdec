from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        from catalog.services import approvals  # noqa: F401  (registers rate card activation with the workflow)
