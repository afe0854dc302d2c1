"""Every error, from any layer, is RFC 9457 problem+json with the same fields."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import path
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tests.problem import assert_problem


class _Crash(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def get(self, request):
        raise RuntimeError("boom: a bug")


def _django_crash(request):
    raise RuntimeError("boom: a bug outside DRF")


urlpatterns = [
    path("crash", _Crash.as_view()),
    path("django-crash", _django_crash),
]
handler500 = "gateway.errors.handler500"


def test_unknown_url_is_404_problem() -> None:
    assert_problem(Client().get("/no/such/thing"), 404, "not_found")


@pytest.mark.django_db
def test_wrong_method_is_405_problem(api) -> None:
    body = assert_problem(api.put("/api/v1/api-keys", {}, format="json"), 405, "method_not_allowed")
    assert body["retryable"] is False


@pytest.mark.django_db
def test_malformed_json_is_400_problem(api) -> None:
    response = api.post("/api/v1/auth/register", "{not json", content_type="application/json")
    assert_problem(response, 400, "malformed_request")


@pytest.mark.django_db
def test_wrong_media_type_is_415_problem() -> None:
    response = APIClient().post("/api/v1/auth/register", "name=x", content_type="text/plain")
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_oversized_body_is_413_problem(settings) -> None:
    settings.MAX_REQUEST_BODY_BYTES = 100
    response = APIClient().post("/api/v1/auth/register", {"name": "x" * 200}, format="json")
    assert_problem(response, 413, "request_too_large")


@override_settings(ROOT_URLCONF=__name__)
def test_crash_in_api_view_is_opaque_500_problem(caplog) -> None:
    response = APIClient().get("/crash")

    body = assert_problem(response, 500, "internal_error")
    assert "boom" not in response.content.decode()
    assert body["retryable"] is True
    assert any(record.exc_info and "boom" in str(record.exc_info[1]) for record in caplog.records)


@override_settings(ROOT_URLCONF=__name__)
def test_crash_outside_drf_is_500_problem() -> None:
    client = Client(raise_request_exception=False)

    response = client.get("/django-crash")

    assert_problem(response, 500, "internal_error")
    assert "boom" not in response.content.decode()


def test_error_type_uris_resolve_to_the_catalogue() -> None:
    listed = Client().get("/errors/").json()["data"]
    one = Client().get("/errors/api_key_revoked").json()

    codes = {entry["code"] for entry in listed}
    assert {"validation_error", "invalid_api_key", "rate_limited", "not_found"} <= codes
    assert (
        one.items()
        >= {
            "code": "api_key_revoked",
            "status": 401,
            "title": "The API key has been revoked",
            "retryable": False,
        }.items()
    )


def test_database_outage_in_an_api_view_is_503_retryable(monkeypatch) -> None:
    from django.db import OperationalError
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)

    response = APIClient().get("/api/v1/api-keys", HTTP_AUTHORIZATION="Bearer sk_test_" + "a" * 40)

    body = assert_problem(response, 503, "service_unavailable")
    assert body["retryable"] is True
    assert response["Retry-After"] == "5"
