from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_database_is_postgresql_with_session_timeouts() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        version = int(cursor.fetchone()[0])
        cursor.execute("SHOW statement_timeout")
        statement_timeout = cursor.fetchone()[0]
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        idle_timeout = cursor.fetchone()[0]

    assert connection.vendor == "postgresql"
    assert version >= 160000
    assert statement_timeout == "30s"
    assert idle_timeout == "1min"


def test_connections_are_persistent_and_health_checked() -> None:
    from tests import conftest

    # As configured (the test run itself closes connections after each use).
    assert conftest.CONFIGURED_CONN_MAX_AGE == 60
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
