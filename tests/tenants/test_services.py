from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditLog
from audit.services import SYSTEM
from tenants import services
from tenants.models import ApiKey, Mode
from tests.problem import assert_problem
from tests.tenants.factories import TenantFactory, issue_key

pytestmark = pytest.mark.django_db


def test_create_tenant_issues_a_test_key_and_audits_it() -> None:
    created = services.create_tenant(name="Chipata Traders", actor=SYSTEM)

    assert created.tenant.slug == "chipata-traders"
    assert created.tenant.default_currency == "ZMW"
    assert [issued.api_key.mode for issued in created.keys] == [Mode.TEST]
    assert created.keys[0].secret.startswith("sk_test_")
    assert len(created.keys[0].secret.removeprefix("sk_test_")) >= 32
    actions = set(AuditLog.objects.filter(tenant=created.tenant).values_list("action", flat=True))
    assert actions == {"tenant.created", "api_key.created"}


def test_create_tenant_with_live_issues_both_modes() -> None:
    created = services.create_tenant(name="Ndola Agro", actor=SYSTEM, live=True)

    assert sorted(issued.api_key.mode for issued in created.keys) == ["live", "test"]
    assert created.keys[1].secret.startswith("sk_live_")


def test_create_tenant_makes_a_free_slug_when_name_repeats() -> None:
    first = services.create_tenant(name="Same Name", actor=SYSTEM).tenant
    second = services.create_tenant(name="Same Name", actor=SYSTEM).tenant

    assert first.slug == "same-name"
    assert second.slug.startswith("same-name-") and second.slug != first.slug


def test_database_holds_no_usable_secret() -> None:
    created = services.create_tenant(name="Kitwe Hardware", actor=SYSTEM, live=True)
    secrets = [issued.secret for issued in created.keys]
    random_parts = [secret.split("_", 2)[2] for secret in secrets]

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [row[0] for row in cursor.fetchall()]
        leaks = []
        for table in tables:
            for needle in random_parts:
                # Whole rows as text: catches the secret in any column of any table.
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE %s',  # noqa: S608
                    [f"%{needle}%"],
                )
                if cursor.fetchone()[0]:
                    leaks.append(table)

    assert tables and not leaks
    stored = ApiKey.objects.get(pk=created.keys[0].api_key.pk)
    assert len(stored.secret_hash) == 64 and stored.prefix == random_parts[0][:12]


def test_rotated_key_keeps_working_for_the_grace_period_only(client_for) -> None:
    old = issue_key()

    response = client_for(old.secret).post("/api/v1/api-keys/rotate")

    assert response.status_code == 201
    new_secret = response.json()["secret"]
    assert new_secret.startswith("sk_test_") and new_secret != old.secret
    assert client_for(new_secret).get("/api/v1/api-keys").status_code == 200
    assert client_for(old.secret).get("/api/v1/api-keys").status_code == 200
    old.api_key.refresh_from_db()
    assert old.api_key.expires_at is not None
    assert timedelta(hours=23) < old.api_key.expires_at - timezone.now() <= timedelta(hours=24)

    ApiKey.objects.filter(pk=old.api_key.pk).update(expires_at=timezone.now())
    assert_problem(client_for(old.secret).get("/api/v1/api-keys"), 401, "api_key_expired")
    assert client_for(new_secret).get("/api/v1/api-keys").status_code == 200


def test_rotation_never_extends_an_earlier_expiry() -> None:
    soon = timezone.now() + timedelta(minutes=5)
    old = issue_key(expires_at=soon)

    services.rotate_api_key(api_key=old.api_key, actor=SYSTEM, grace=timedelta(hours=24))

    old.api_key.refresh_from_db()
    assert old.api_key.expires_at == soon


def test_revoked_key_stops_at_once(client_for) -> None:
    tenant = TenantFactory.create()
    admin_key, leaked = issue_key(tenant), issue_key(tenant)

    response = client_for(admin_key.secret).delete(f"/api/v1/api-keys/{leaked.api_key.pk}")

    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    assert_problem(client_for(leaked.secret).get("/api/v1/api-keys"), 401, "api_key_revoked")
    assert (
        AuditLog.objects.filter(action="api_key.revoked", target_id=str(leaked.api_key.pk)).count()
        == 1
    )


def test_set_tenant_active_audits_only_real_changes() -> None:
    tenant = TenantFactory.create()

    services.set_tenant_active(tenant=tenant, active=False, actor=SYSTEM)
    services.set_tenant_active(tenant=tenant, active=False, actor=SYSTEM)

    tenant.refresh_from_db()
    assert tenant.is_active is False
    assert AuditLog.objects.filter(action="tenant.deactivated", tenant=tenant).count() == 1
