from django.urls import path

from usage.api import contract_migrations, metering

urlpatterns = [
    path("events", metering.EventIngestApi.as_view(), name="events"),
    path("customers/<str:external_id>/usage", metering.CurrentUsageApi.as_view(), name="customer-usage"),
    path(
        "contract-migrations/preview",
        contract_migrations.ContractMigrationPreviewApi.as_view(),
        name="contract-migrations-preview",
    ),
    path("contract-migrations", contract_migrations.ContractMigrationApi.as_view(), name="contract-migrations"),
]
