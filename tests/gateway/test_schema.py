from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_schema_documents_the_api_key_security_schemes() -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    schema = response.json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sk_test_… or sk_live_…",
        "description": schemes["BearerApiKey"]["description"],
    }
    assert schemes["HeaderApiKey"]["in"] == "header"
    assert schemes["HeaderApiKey"]["name"] == "X-API-Key"
    operation = schema["paths"]["/api/v1/api-keys"]["get"]
    assert operation["security"] == [{"BearerApiKey": []}, {"HeaderApiKey": []}]
    assert "/health" not in schema["paths"]


def test_swagger_ui_renders_from_our_own_static_files() -> None:
    page = Client().get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/schema/" in html
    scripts = re.findall(r'src="([^"]+\.js)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts)  # no CDN
    for src in scripts:
        asset = Client().get(src)
        assert asset.status_code == 200, src
        assert "javascript" in asset["Content-Type"]


def test_schema_describes_the_list_envelope() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    response = schema["paths"]["/api/v1/api-keys"]["get"]["responses"]["200"]
    ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {"object", "data"}


def test_operations_document_problem_responses_and_the_idempotency_key() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    create = schema["paths"]["/api/v1/payments"]["post"]
    retrieve = schema["paths"]["/api/v1/payments/{public_id}"]["get"]
    problem = {"$ref": "#/components/schemas/Problem"}
    assert create["responses"]["422"]["content"]["application/problem+json"]["schema"] == problem
    assert {"400", "401", "409", "429"} <= create["responses"].keys()
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert "Idempotency-Key" not in [p["name"] for p in retrieve.get("parameters", [])]
    assert (
        "idempotency_key_mismatch"
        in schema["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
    )


def test_payment_schema_marks_the_fields_that_can_be_null() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    payment = schema["components"]["schemas"]["Payment"]["properties"]

    for field in ("refund_of", "provider_transaction_id", "failure_code", "failure_message"):
        assert payment[field].get("nullable") is True, field
    assert payment["completed_at"].get("nullable") is True


def test_schema_documents_fee_net_and_the_balance_endpoints() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemas = schema["components"]["schemas"]

    for field in ("fee", "net"):
        prop = schemas["Payment"]["properties"][field]
        assert (prop["type"], prop["format"], prop["readOnly"]) == ("string", "decimal", True)
        assert prop["description"]
    assert {"fee", "net"} <= set(schemas["Payment"]["required"])
    balance = schema["paths"]["/api/v1/balance"]["get"]["responses"]["200"]
    assert balance["content"]["application/json"]["schema"]["$ref"].endswith("/Balance")
    listed = schema["paths"]["/api/v1/balance-transactions"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {
        "type",
        "payment",
        "created_after",
        "created_before",
        "limit",
        "cursor",
    }
    item = schemas["BalanceTransaction"]["properties"]
    assert item["amount"]["type"] == "string" and item["payment"]["nullable"] is True
    top_up = schema["paths"]["/api/v1/test/top-ups"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in top_up["parameters"]]
    assert {"201", "403"} <= top_up["responses"].keys()
    assert "test_mode_only" in schemas["Problem"]["properties"]["code"]["enum"]
