from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.models import ApiKey, Mode
from tests.problem import assert_problem
from tests.tenants.factories import TenantFactory, issue_key

URL = "/api/v1/api-keys"

pytestmark = pytest.mark.django_db


def test_request_is_401_when_key_missing() -> None:
    response = APIClient().get(URL)

    assert_problem(response, 401, "authentication_required")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "presented",
    [
        "sk_test_" + "A" * 40,  # well-formed, unknown
        "sk_test_short",
        "not-a-key",
        "sk_prod_" + "A" * 40,
    ],
)
def test_request_is_401_when_key_wrong(client_for, presented: str) -> None:
    assert_problem(client_for(presented).get(URL), 401, "invalid_api_key")


def test_request_is_401_when_secret_differs_but_prefix_matches(client_for, test_key) -> None:
    tampered = test_key.secret[:-1] + ("a" if test_key.secret[-1] != "a" else "b")

    assert_problem(client_for(tampered).get(URL), 401, "invalid_api_key")


def test_request_is_401_when_key_revoked(client_for, test_key) -> None:
    ApiKey.objects.filter(pk=test_key.api_key.pk).update(revoked_at=timezone.now())

    assert_problem(client_for(test_key.secret).get(URL), 401, "api_key_revoked")


def test_request_is_401_when_key_expired(client_for) -> None:
    issued = issue_key(expires_at=timezone.now() - timedelta(seconds=1))

    assert_problem(client_for(issued.secret).get(URL), 401, "api_key_expired")


def test_request_is_401_when_tenant_inactive(client_for) -> None:
    issued = issue_key(tenant=TenantFactory.create(is_active=False))

    assert_problem(client_for(issued.secret).get(URL), 401, "tenant_inactive")


def test_key_is_accepted_as_bearer_or_x_api_key(test_key) -> None:
    bearer = APIClient().get(URL, HTTP_AUTHORIZATION=f"Bearer {test_key.secret}")
    header = APIClient().get(URL, HTTP_X_API_KEY=test_key.secret)

    assert bearer.status_code == 200
    assert header.status_code == 200


def test_request_is_403_when_x_tenant_id_differs(api, test_key) -> None:
    other = TenantFactory.create()

    assert_problem(api.get(URL, HTTP_X_TENANT_ID=str(other.id)), 403, "tenant_mismatch")
    assert api.get(URL, HTTP_X_TENANT_ID=str(test_key.api_key.tenant_id)).status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(api, test_key) -> None:
    api.get(URL)
    first = ApiKey.objects.get(pk=test_key.api_key.pk).last_used_at
    assert first is not None

    with CaptureQueriesContext(connection) as queries:
        api.get(URL)
    assert not [q for q in queries if q["sql"].startswith('UPDATE "tenants_apikey"')]
    assert ApiKey.objects.get(pk=test_key.api_key.pk).last_used_at == first

    ApiKey.objects.filter(pk=test_key.api_key.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get(URL)
    latest = ApiKey.objects.get(pk=test_key.api_key.pk).last_used_at
    assert latest is not None and latest > first


def test_live_key_authenticates_in_live_mode(client_for) -> None:
    issued = issue_key(mode=Mode.LIVE)

    response = client_for(issued.secret).get(URL)

    assert response.status_code == 200
    assert [key["mode"] for key in response.json()["data"]] == ["live"]
