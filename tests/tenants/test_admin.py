"""The ops back-office: pages render, and actions go through the services (audit rows)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from audit.models import AuditLog
from audit.services import SYSTEM, record
from tenants.models import ApiKey, Tenant
from tests.payments.factories import PaymentFactory
from tests.staff import signed_in
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


def _secrets_page(staff: Client, url: str, action: str, pks: list[object]) -> str:
    """A key action's answer: the page showing the new secrets once (no redirect, no message)."""
    response = staff.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert not list(get_messages(response.wsgi_request))
    return response.content.decode()


def test_admin_issues_a_live_key_shown_once(staff: Client, client_for) -> None:
    tenant = TenantFactory.create()

    page = _secrets_page(staff, "/admin/tenants/tenant/", "issue_live_key", [tenant.pk])

    [secret] = re.findall(r"sk_live_[A-Za-z0-9]{40}", page)
    assert client_for(secret).get("/api/v1/api-keys").status_code == 200
    assert secret not in staff.get("/admin/tenants/apikey/").content.decode()
    assert AuditLog.objects.filter(action="api_key.created", actor_kind="user").count() == 1


def test_admin_deactivates_a_tenant_and_its_keys_stop(staff: Client, client_for) -> None:
    issued = issue_key()

    _action(staff, "/admin/tenants/tenant/", "deactivate", [issued.api_key.tenant_id])

    assert Tenant.objects.get(pk=issued.api_key.tenant_id).is_active is False
    assert client_for(issued.secret).get("/api/v1/api-keys").status_code == 401


def test_admin_rotates_and_revokes_keys(staff: Client, client_for) -> None:
    rotated, revoked = issue_key(), issue_key()

    page = _secrets_page(staff, "/admin/tenants/apikey/", "rotate", [rotated.api_key.pk])
    _action(staff, "/admin/tenants/apikey/", "revoke", [revoked.api_key.pk])

    [new_secret] = re.findall(r"sk_test_[A-Za-z0-9]{40}", page)
    assert client_for(new_secret).get("/api/v1/api-keys").status_code == 200
    assert ApiKey.objects.get(pk=rotated.api_key.pk).expires_at is not None
    assert client_for(revoked.secret).get("/api/v1/api-keys").status_code == 401


def test_admin_cannot_edit_or_delete_audit_rows(staff: Client) -> None:
    issue_key()
    row = AuditLog.objects.first()
    assert row is not None

    assert staff.post(f"/admin/audit/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_admin_creates_a_tenant_with_its_first_keys_shown_once(staff: Client, client_for) -> None:
    response = staff.post("/admin/tenants/tenant/add/", {"name": "Kafue Traders", "live": "on"})

    page = response.content.decode()
    assert response.status_code == 200 and "only time it is shown" in page
    tenant = Tenant.objects.get(name="Kafue Traders")
    [test_secret] = re.findall(r"sk_test_[A-Za-z0-9]{40}", page)
    [live_secret] = re.findall(r"sk_live_[A-Za-z0-9]{40}", page)
    assert client_for(test_secret).get("/api/v1/api-keys").status_code == 200
    assert client_for(live_secret).get("/api/v1/api-keys").status_code == 200
    assert AuditLog.objects.filter(action="tenant.created", target_ref=str(tenant.pk)).exists()
    assert (
        test_secret not in staff.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    )


def test_creating_a_tenant_with_a_live_key_is_refused_without_the_permission(staff_in) -> None:
    user = staff_in("support")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_tenant", "manage_api_keys"])
    )
    client = signed_in(user)

    refused = client.post("/admin/tenants/tenant/add/", {"name": "Live Co", "live": "on"})
    allowed = client.post("/admin/tenants/tenant/add/", {"name": "Test Co"})

    assert refused.status_code == 200 and "Refused, nothing created" in refused.content.decode()
    assert "sk_live_" not in refused.content.decode()
    assert not Tenant.objects.filter(name="Live Co").exists()
    assert Tenant.objects.filter(name="Test Co").exists() and "sk_test_" in allowed.content.decode()


def test_support_cannot_add_a_tenant(staff_in) -> None:
    assert signed_in(staff_in("support")).get("/admin/tenants/tenant/add/").status_code == 403


def test_keys_show_their_state_and_filter_by_it(staff: Client) -> None:
    active, grace, revoked, expired = (issue_key() for _ in range(4))
    now = timezone.now()
    ApiKey.objects.filter(pk=grace.api_key.pk).update(expires_at=now + timedelta(hours=2))
    ApiKey.objects.filter(pk=revoked.api_key.pk).update(revoked_at=now)
    ApiKey.objects.filter(pk=expired.api_key.pk).update(expires_at=now - timedelta(seconds=1))

    listing = staff.get("/admin/tenants/apikey/").content.decode()
    shown = {
        state: staff.get("/admin/tenants/apikey/", {"state": state}).content.decode()
        for state in ("active", "grace", "revoked", "expired")
    }

    assert ">active<" in listing and "in grace until" in listing
    assert ">revoked<" in listing and ">expired<" in listing
    for state, issued in [
        ("active", active),
        ("grace", grace),
        ("revoked", revoked),
        ("expired", expired),
    ]:
        others = {active, grace, revoked, expired} - {issued}
        assert issued.api_key.display in shown[state], state
        assert not any(other.api_key.display in shown[state] for other in others), state


def test_a_tenant_links_to_its_payments_and_shows_totals(staff: Client) -> None:
    tenant = TenantFactory.create()
    PaymentFactory.create_batch(2, tenant=tenant, amount="100.00")
    PaymentFactory.create(amount="7.00")  # another tenant's

    page = staff.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    listed = staff.get("/admin/payments/payment/", {"tenant__id__exact": str(tenant.pk)})

    assert f"?tenant__id__exact={tenant.pk}" in page
    assert "200.00 ZMW" in page and "7.00" not in page
    assert listed.status_code == 200
    assert listed.content.decode().count('class="field-public_id"') == 2


def test_a_created_payments_audit_row_names_its_public_id(client_for) -> None:
    issued = issue_key()

    created = client_for(issued.secret).post(
        "/api/v1/payments",
        {"amount": "10.00", "msisdn": "0961234567", "external_id": "audit-ref"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="audit-ref-1",
    )

    row = AuditLog.objects.get(action="payment.created")
    assert row.target_ref == created.json()["id"]


def test_the_audit_trail_names_and_finds_public_ids(staff: Client) -> None:
    issued = issue_key()
    payment = PaymentFactory.create()
    record(actor=SYSTEM, action="payment.noted", target=payment, tenant=payment.tenant)

    def found(term: str) -> tuple[list[str], str]:
        page = staff.get("/admin/audit/auditlog/", {"q": term}).content.decode()
        return re.findall(r'class="field-action">([^<]+)<', page), page

    by_payment, page = found(payment.public_id)
    by_key, key_page = found(issued.api_key.display)

    assert by_payment == ["payment.noted"]
    assert f"<code>{payment.public_id}</code>" in page
    assert by_key == ["api_key.created"] and f"sk_test_{issued.api_key.prefix}" in key_page
    assert found(str(payment.pk))[0] == []  # an internal key finds nothing
