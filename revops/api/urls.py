from django.urls import path

from revops.api import whoami

urlpatterns = [
    path("whoami", whoami.WhoAmIApi.as_view(), name="whoami"),
]
