from django.urls import path

from contracts import api

urlpatterns = [
    path("customers", api.CustomerListCreateApi.as_view(), name="customers"),
    path("customers/<str:external_id>", api.CustomerDetailApi.as_view(), name="customer-detail"),
    path("customers/<str:external_id>/aliases", api.CustomerAliasListCreateApi.as_view(), name="customer-aliases"),
    path(
        "customers/<str:external_id>/aliases/<str:alias>",
        api.CustomerAliasDeleteApi.as_view(),
        name="customer-alias-detail",
    ),
]
