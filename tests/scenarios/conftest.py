import pytest

from tests.scenarios.support import Api


@pytest.fixture
def api(write_client, django_capture_on_commit_callbacks):
    return Api(write_client, django_capture_on_commit_callbacks)
