from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from audit.models import AuditLog
from audit.services import SYSTEM, record
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db


def test_audit_rows_carry_the_request_context(api, test_key) -> None:
    api.post("/api/v1/api-keys/rotate", HTTP_X_REQUEST_ID="rotate-req-0001", REMOTE_ADDR="10.1.2.3")

    row = AuditLog.objects.get(action="api_key.rotated")
    assert row.request_id == "rotate-req-0001"
    assert row.ip_address == "10.1.2.3"
    assert row.actor_kind == "api_key" and row.actor_id == str(test_key.api_key.pk)
    assert row.tenant_id == test_key.api_key.tenant_id


@pytest.mark.parametrize("change", ["update", "delete"])
def test_audit_log_is_append_only_in_the_database(change: str) -> None:
    tenant = TenantFactory.create()
    row = record(actor=SYSTEM, action="tenant.created", target=tenant, tenant=tenant)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        if change == "update":
            AuditLog.objects.filter(pk=row.pk).update(action="forged")
        else:
            AuditLog.objects.filter(pk=row.pk).delete()

    assert AuditLog.objects.get(pk=row.pk).action == "tenant.created"
