"""Strict URLs: unknown query parameters are a 400 naming them; a trailing slash is a 404
naming the path that works."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.payments.factories import PaymentFactory
from tests.problem import assert_problem

pytestmark = pytest.mark.django_db

# A well-formed value for every path parameter of the schema, by the path's resource: the
# check runs before the view looks anything up, so the object need not exist.
_PATH_VALUES = {
    "payments": "pay_" + "a" * 24,
    "webhook-endpoints": "we_" + "a" * 24,
    "events": "evt_" + "a" * 24,
    "api-keys": "1",
    "accounts": "0961234567",
    "payout-batches": "pob_" + "a" * 24,
}


def _concrete(path: str) -> str:
    if "{" not in path:
        return path
    return re.sub(r"\{[^}]+\}", _PATH_VALUES[path.split("/")[3]], path)


def _schema() -> dict:
    return Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_unknown_filter_is_400_naming_it_instead_of_listing_every_payment(api, test_key) -> None:
    caller_payment = PaymentFactory.create(tenant=test_key.api_key.tenant)

    response = api.get(
        "/api/v1/payments", {"provider_transaction_id": "3923728637", "status": "SUCCESSFUL"}
    )

    body = assert_problem(response, 400, "unknown_query_parameter")
    assert body["errors"] == [
        {"field": "provider_transaction_id", "message": "Not a query parameter of this endpoint."}
    ]
    assert "provider_transaction_id" in body["detail"]
    assert "created_after" in body["detail"]  # and what the endpoint does accept
    assert caller_payment.public_id not in response.content.decode()


def test_declared_filters_and_pages_are_accepted(api, test_key) -> None:
    PaymentFactory.create_batch(2, tenant=test_key.api_key.tenant)

    response = api.get("/api/v1/payments", {"status": "PENDING", "flow": "collection", "limit": 1})

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == 1
    assert api.get(response.json()["next"]).status_code == 200  # the cursor link as it is


def test_a_read_without_parameters_refuses_any(api, test_key) -> None:
    payment = PaymentFactory.create(tenant=test_key.api_key.tenant)

    response = api.get(f"/api/v1/payments/{payment.public_id}", {"expand": "refunds"})

    assert_problem(response, 400, "unknown_query_parameter")


def test_limit_outside_1_to_100_is_400_not_silently_clamped(api) -> None:
    body = assert_problem(api.get("/api/v1/payments", {"limit": 500}), 400, "validation_error")
    assert body["errors"][0]["field"] == "limit"
    assert_problem(api.get("/api/v1/events", {"limit": "ten"}), 400, "validation_error")


def test_every_api_read_refuses_what_its_schema_does_not_document(api) -> None:
    schema = _schema()
    reads = [path for path, ops in schema["paths"].items() if "get" in ops]
    assert len(reads) >= 10

    for path in reads:
        response = api.get(_concrete(path), {"zz_unknown": "1"})
        body = assert_problem(response, 400, "unknown_query_parameter")
        assert body["errors"] == [
            {"field": "zz_unknown", "message": "Not a query parameter of this endpoint."}
        ], path
        parameters = schema["paths"][path]["get"].get("parameters", [])
        for name in {
            p["name"] for p in parameters if p["in"] == "query"
        }:  # every documented one is accepted (whatever its value's verdict)
            answer = api.get(_concrete(path), {name: "x"})
            assert answer.json().get("code") != "unknown_query_parameter", (path, name)


def test_lists_document_limit_and_cursor() -> None:
    schema = _schema()
    for path in ("/api/v1/payments", "/api/v1/balance-transactions", "/api/v1/events"):
        names = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
        assert {"limit", "cursor"} <= names, path


def test_operator_callbacks_and_simulators_keep_their_query_strings() -> None:
    response = Client().get("/api/v1/webhooks/mtn/health", {"anything": "1"})

    assert response.status_code == 200


def test_writes_are_not_checked_for_query_parameters() -> None:
    response = Client().post(
        "/api/v1/auth/register?utm_source=x",
        {"name": "Lusaka Books"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("method", ["get", "post"])
def test_trailing_slash_is_404_naming_the_path_without_it(api, method) -> None:
    response = getattr(api, method)("/api/v1/payments/", {}, format="json")

    body = assert_problem(response, 404, "trailing_slash")
    assert body["path"] == "/api/v1/payments"
    assert "/api/v1/payments, without the trailing slash" in body["detail"]


def test_trailing_slash_on_a_detail_path_names_it_too(api) -> None:
    response = api.get("/api/v1/payments/pay_" + "a" * 24 + "/")

    assert (
        assert_problem(response, 404, "trailing_slash")["path"]
        == "/api/v1/payments/pay_" + "a" * 24
    )


def test_an_unknown_path_with_a_slash_is_a_plain_404() -> None:
    assert_problem(Client().get("/api/v1/nothing-here/"), 404, "not_found")
