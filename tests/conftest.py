from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tenants.models import Mode
from tests.tenants.factories import issue_key


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):
    # Counters are keyed by tenant, but a suite of requests must not trip the default budget;
    # the rate-limit tests set their own.
    settings.RATE_LIMIT_READ = settings.RATE_LIMIT_WRITE = "1000/m"


CONFIGURED_CONN_MAX_AGE: int | None = None


@pytest.fixture(scope="session", autouse=True)
def _loopback_only():
    """Tests may only reach 127.0.0.1 / ::1 (and Unix sockets): never an outside address."""
    import ipaddress
    import socket

    real_connect = socket.socket.connect

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not ipaddress.ip_address(
                socket.gethostbyname(host) if host == "localhost" else host
            ).is_loopback:
                raise ConnectionRefusedError(f"tests may not connect to {host}: loopback only")
        return real_connect(self, address)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = real_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def _short_lived_connections():
    """Live-server and worker threads would each keep a persistent connection until garbage
    collection; in tests that exhausts PostgreSQL's max_connections. Close after each use."""
    global CONFIGURED_CONN_MAX_AGE
    from django.db import connections

    CONFIGURED_CONN_MAX_AGE = connections.settings["default"]["CONN_MAX_AGE"]
    connections.settings["default"]["CONN_MAX_AGE"] = 0
    yield
    connections.settings["default"]["CONN_MAX_AGE"] = CONFIGURED_CONN_MAX_AGE


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
def _clean_tables_flush_misses(request, django_db_blocker):
    """A transactional test's flush empties model tables only: the cache table, the
    rate-limit counters and Procrastinate's (unmanaged) tables keep their rows, which would
    leak into later tests."""
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction", False)
    if transactional or {"transactional_db", "live_server"} & set(request.fixturenames):
        from django.core.cache import cache
        from django.db import connection

        with django_db_blocker.unblock():
            cache.clear()
            with connection.cursor() as cursor:
                cursor.execute(
                    "TRUNCATE procrastinate_jobs, procrastinate_periodic_defers,"
                    " procrastinate_workers, gateway_rate_counter CASCADE"
                )


@pytest.fixture(autouse=True)
def _fresh_adapters():
    # Adapters cache sessions, tokens and breakers per process; tests change their settings.
    from providers import registry

    registry.reset()
    yield
    registry.reset()


@pytest.fixture
def staff(db):
    """A signed-in superuser of the ops back-office (past its second factor)."""
    from django.contrib.auth import get_user_model

    from tests.staff import signed_in

    user = get_user_model().objects.create_superuser("ops", "ops@example.zm", "a-long-password")
    return signed_in(user)


@pytest.fixture
def admin_client(admin_user):
    """pytest-django's superuser client, past the second factor a superuser always needs."""
    from tests.staff import signed_in

    return signed_in(admin_user)


@pytest.fixture
def staff_in(db):
    """`staff_in("ops")`: a new staff user (not a superuser) in these back-office roles, the
    groups gateway migration 0003 creates."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    made = iter(range(1, 1000))

    def make(*roles: str):
        user = get_user_model().objects.create_user(
            f"staff{next(made)}-{'-'.join(roles) or 'none'}", password="a-long-password"
        )
        user.is_staff = True
        user.save()
        user.groups.set(Group.objects.filter(name__in=roles))
        return user

    return make


@pytest.fixture
def ops_actor(staff_in):
    """A staff actor in the `ops` role, as the admin builds it for a request."""
    from audit.models import ActorKind
    from audit.services import Actor

    user = staff_in("ops")
    return Actor(kind=ActorKind.USER, id=str(user.pk), label=user.username, user=user)


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
