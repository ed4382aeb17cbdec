from django.urls import path

from usage import api

urlpatterns = [
    path("events", api.EventIngestApi.as_view(), name="events"),
    path("customers/<str:external_id>/usage", api.CurrentUsageApi.as_view(), name="customer-usage"),
]
