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


def _fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname) for field in type(instance)._meta.fields
    }


def test_a_row_read_back_with_from_row_is_the_instance_the_orm_makes() -> None:
    from gateway import db
    from payments.models import Payment
    from tests.payments.factories import PaymentFactory

    made = PaymentFactory.create(metadata={"order": [1, "two", None]}, description="")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(db.columns(Payment, 'p'))} FROM payments_payment p"  # noqa: S608
        )
        read = db.from_row(Payment, cursor.fetchone())

    assert _fields(read) == _fields(Payment.objects.get())
    assert read.metadata == {"order": [1, "two", None]}  # JSON converted, not text
    assert read._state.adding is False and read.pk == made.pk


def test_the_api_key_look_up_reads_the_key_and_its_tenant_as_the_orm_does() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tenants import selectors
    from tenants.models import ApiKey
    from tests.tenants.factories import issue_key

    issued = issue_key(expires_at=timezone.now() + timedelta(days=1))
    found = selectors.get_api_key_for_secret(secret=issued.secret)
    expected = ApiKey.objects.select_related("tenant").get()

    assert _fields(found) == _fields(expected)
    assert _fields(found.tenant) == _fields(expected.tenant)
