"""The ops back-office: pages render, and actions go through the services (audit rows)."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from audit.models import AuditLog
from tenants.models import ApiKey, Tenant
from tests.tenants.factories import TenantFactory, issue_key

pytestmark = pytest.mark.django_db


def _action(staff: Client, url: str, action: str, pks: list[object]) -> list[str]:
    response = staff.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]})
    assert response.status_code == 302
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    "url", ["/admin/tenants/tenant/", "/admin/tenants/apikey/", "/admin/audit/auditlog/"]
)
def test_admin_lists_render(staff: Client, url: str) -> None:
    issue_key()

    assert staff.get(url).status_code == 200


def test_admin_tenant_page_shows_keys_but_no_secret(staff: Client) -> None:
    issued = issue_key()

    page = staff.get(f"/admin/tenants/tenant/{issued.api_key.tenant_id}/change/").content.decode()

    assert issued.api_key.display in page
    assert issued.secret not in page


def test_admin_issues_a_live_key_shown_once(staff: Client, client_for) -> None:
    tenant = TenantFactory.create()

    messages = _action(staff, "/admin/tenants/tenant/", "issue_live_key", [tenant.pk])

    [secret] = re.findall(r"sk_live_[A-Za-z0-9]{40}", " ".join(messages))
    assert client_for(secret).get("/api/v1/api-keys").status_code == 200
    assert AuditLog.objects.filter(action="api_key.created", actor_kind="user").count() == 1


def test_admin_deactivates_a_tenant_and_its_keys_stop(staff: Client, client_for) -> None:
    issued = issue_key()

    _action(staff, "/admin/tenants/tenant/", "deactivate", [issued.api_key.tenant_id])

    assert Tenant.objects.get(pk=issued.api_key.tenant_id).is_active is False
    assert client_for(issued.secret).get("/api/v1/api-keys").status_code == 401


def test_admin_rotates_and_revokes_keys(staff: Client, client_for) -> None:
    rotated, revoked = issue_key(), issue_key()

    messages = _action(staff, "/admin/tenants/apikey/", "rotate", [rotated.api_key.pk])
    _action(staff, "/admin/tenants/apikey/", "revoke", [revoked.api_key.pk])

    [new_secret] = re.findall(r"sk_test_[A-Za-z0-9]{40}", " ".join(messages))
    assert client_for(new_secret).get("/api/v1/api-keys").status_code == 200
    assert ApiKey.objects.get(pk=rotated.api_key.pk).expires_at is not None
    assert client_for(revoked.secret).get("/api/v1/api-keys").status_code == 401


def test_admin_cannot_edit_or_delete_audit_rows(staff: Client) -> None:
    issue_key()
    row = AuditLog.objects.first()
    assert row is not None

    assert staff.post(f"/admin/audit/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()
