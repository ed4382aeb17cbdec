import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from revops import apikeys
from tests.conftest import client_with_key
from tests.scenarios.support import Api


@pytest.fixture
def approver_client(db):
    """A second person who may approve (rate card activations wait for one), with an API key of their own."""
    user = get_user_model().objects.create_user(username="checker", email="checker@example.com")
    user.user_permissions.add(Permission.objects.get(codename="decide_approvalrequest"))
    key = apikeys.api_key_create(name="approver", user=user, scopes=["write"], actor=None)
    return client_with_key(key.secret)


@pytest.fixture
def api(write_client, approver_client, django_capture_on_commit_callbacks):
    return Api(write_client, django_capture_on_commit_callbacks, approver=approver_client)
