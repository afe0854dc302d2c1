"""Invariant 5: every tenant-reachable query is scoped by tenant and mode.

Later issues add their endpoints to ENDPOINTS_BY_ID so that every one is checked the same way.
"""

from __future__ import annotations

import pytest

from tenants.models import Mode
from tests.problem import assert_problem
from tests.tenants.factories import TenantFactory, issue_key

pytestmark = pytest.mark.django_db


def test_list_shows_only_own_tenant_and_mode(client_for) -> None:
    tenant_a, tenant_b = TenantFactory.create(), TenantFactory.create()
    a_test = issue_key(tenant_a, Mode.TEST)
    issue_key(tenant_a, Mode.LIVE)
    issue_key(tenant_b, Mode.TEST)

    listed = client_for(a_test.secret).get("/api/v1/api-keys").json()["data"]

    assert [key["id"] for key in listed] == [a_test.api_key.pk]


@pytest.mark.parametrize("method", ["get", "delete"])
def test_another_tenants_key_answers_404(client_for, method: str) -> None:
    a_key = issue_key(TenantFactory.create())
    b_key = issue_key(TenantFactory.create())

    response = getattr(client_for(a_key.secret), method)(f"/api/v1/api-keys/{b_key.api_key.pk}")

    assert_problem(response, 404, "not_found")
    b_key.api_key.refresh_from_db()
    assert b_key.api_key.revoked_at is None


@pytest.mark.parametrize("method", ["get", "delete"])
def test_test_key_cannot_see_live_data_of_same_tenant(client_for, method: str) -> None:
    tenant = TenantFactory.create()
    test_key, live_key = issue_key(tenant, Mode.TEST), issue_key(tenant, Mode.LIVE)

    response = getattr(client_for(test_key.secret), method)(
        f"/api/v1/api-keys/{live_key.api_key.pk}"
    )

    assert_problem(response, 404, "not_found")
    live_key.api_key.refresh_from_db()
    assert live_key.api_key.revoked_at is None
