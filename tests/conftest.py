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


@pytest.fixture(scope="session", autouse=True)
def _end_leftover_sessions(django_db_setup, django_db_blocker):
    """Close sessions that server and worker threads keep (persistent connections), so the
    test database can be dropped at the end of the run."""
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _clear_shared_cache(request, django_db_blocker):
    """The cache table is not a model, so transactional tests' flush leaves it: clear it."""
    yield
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        from django.core.cache import cache

        with django_db_blocker.unblock():
            cache.clear()


@pytest.fixture(autouse=True)
def _fresh_adapters():
    # Adapters cache sessions, tokens and breakers per process; tests change their settings.
    from providers import registry

    registry.reset()
    yield
    registry.reset()


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
