from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tenants.models import Tenant
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db


def test_register_creates_tenant_with_a_working_test_key(client_for) -> None:
    response = APIClient().post("/api/v1/auth/register", {"name": "Lusaka Books"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["tenant"]["name"] == "Lusaka Books"
    assert body["tenant"]["slug"] == "lusaka-books"
    assert body["api_key"].startswith("sk_test_")
    listed = client_for(body["api_key"]).get("/api/v1/api-keys").json()["data"]
    assert [key["mode"] for key in listed] == ["test"]


def test_register_is_403_when_signup_disabled(settings) -> None:
    settings.ALLOW_SIGNUP = False

    response = APIClient().post("/api/v1/auth/register", {"name": "Closed"}, format="json")

    assert_problem(response, 403, "signup_disabled")
    assert not Tenant.objects.exists()


def test_register_is_400_with_field_errors_when_name_missing() -> None:
    response = APIClient().post("/api/v1/auth/register", {"name": ""}, format="json")

    body = assert_problem(response, 400, "validation_error")
    assert body["errors"] == [{"field": "name", "message": "This field may not be blank."}]
    assert not Tenant.objects.exists()
