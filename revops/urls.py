"""Top-level URLs: admin, the versioned REST API, its schema and docs, and /healthz."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from revops.api.errors import json_not_found, json_server_error
from revops.api.views import HealthzApi

api_v1 = [
    path("", include("revops.api.urls")),
    path("", include("contracts.urls")),
    path("", include("catalog.urls")),
    path("", include("usage.urls")),
    path("", include("billing.urls")),
    # Anything else under the API answers in the API's error shape, also with DEBUG on.
    re_path(r"^.*$", json_not_found),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("healthz", HealthzApi.as_view(), name="healthz"),
]

admin.site.site_header = "revops back-office"
admin.site.site_title = "revops"
admin.site.index_title = "Revenue operations"


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_server_error(request)
    from django.views.defaults import server_error

    return server_error(request)
