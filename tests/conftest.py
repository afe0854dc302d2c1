from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tenants.models import Mode
from tests.tenants.factories import issue_key


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):
    # Counters are keyed by tenant, but a suite of requests must not trip the default budget;
    # the rate-limit tests set their own.
    settings.RATE_LIMIT = "1000/m"


@pytest.fixture
def client_for():
    """An API client authenticated with the given secret key."""

    def make(secret: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture
def test_key(db):
    return issue_key(mode=Mode.TEST)


@pytest.fixture
def api(test_key, client_for) -> APIClient:
    return client_for(test_key.secret)
