from django.urls import path

from contracts import api

urlpatterns = [
    path("customers", api.CustomerListCreateApi.as_view(), name="customers"),
    path("customers/<str:external_id>", api.CustomerDetailApi.as_view(), name="customer-detail"),
]
