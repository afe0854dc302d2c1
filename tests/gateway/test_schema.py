from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tests.payments.factories import fund

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
    # The start-up script is a file too (no inline script, for the Content-Security-Policy),
    # and it is what names the schema.
    assert Client().get("/api/docs/?script=").content.decode().count("/api/schema/") == 1
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
    unprocessable = create["responses"]["422"]["content"]["application/problem+json"]["schema"]
    assert unprocessable["allOf"][0] == problem
    assert "idempotency_key_mismatch" in unprocessable["allOf"][1]["properties"]["code"]["enum"]
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


def _schema() -> dict:
    return Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_operation_ids_are_stable_names_for_generated_clients() -> None:
    ids = {
        (method, path): operation["operationId"]
        for path, operations in _schema()["paths"].items()
        for method, operation in operations.items()
    }

    assert ids[("get", "/api/v1/payments")] == "payments_list"
    assert ids[("post", "/api/v1/payments")] == "payments_create"
    assert ids[("get", "/api/v1/payments/{public_id}")] == "payments_retrieve"
    assert ids[("post", "/api/v1/payments/{public_id}/refund")] == "payments_refund"
    assert ids[("delete", "/api/v1/api-keys/{key_id}")] == "api_keys_delete"
    assert ids[("get", "/api/v1/balance")] == "balance_retrieve"
    assert len(set(ids.values())) == len(ids)
    assert not [name for name in ids.values() if name.startswith("v1_") or name[-1].isdigit()]


def test_schema_names_its_server_and_enumerates_payment_fields() -> None:
    schema = _schema()
    payment = schema["components"]["schemas"]["Payment"]["properties"]

    assert schema["servers"] == [{"url": "/", "description": "This gateway"}]
    for field in ("status", "flow", "provider", "failure_code"):
        assert "$ref" in json.dumps(payment[field]), field  # an enum component
    failure = schema["components"]["schemas"]["FailureCodeEnum"]["enum"]
    assert "payer_not_found" in failure and "cancelled" in failure


def test_money_inputs_cannot_be_negative_in_the_schema() -> None:
    amount = _schema()["components"]["schemas"]["PaymentCreateRequest"]["properties"]["amount"]

    assert not re.fullmatch(amount["pattern"], "-9219231")
    assert re.fullmatch(amount["pattern"], "150.00")


def test_error_responses_carry_the_codes_of_their_status_with_examples() -> None:
    operation = _schema()["paths"]["/api/v1/payments"]["post"]

    assert {"402", "413", "415", "503"} <= set(operation["responses"])
    unavailable = operation["responses"]["503"]["content"]["application/problem+json"]
    assert {"provider_unavailable", "service_unavailable"} == set(unavailable["examples"])
    unauthorized = operation["responses"]["401"]["content"]["application/problem+json"]
    assert "bad_signature" not in unauthorized["examples"]  # operators' callbacks only
    assert unauthorized["examples"]["invalid_api_key"]["value"]["status"] == 401


def test_every_payment_example_is_accepted_as_shipped(api, test_key) -> None:
    fund(test_key.api_key.tenant)  # the payout example is paid from the balance
    payments = _schema()["paths"]["/api/v1/payments"]["post"]
    examples = payments["requestBody"]["content"]["application/json"]["examples"]

    assert len(examples) == 2
    for example in examples.values():
        response = api.post("/api/v1/payments", example["value"], format="json")
        assert response.status_code == 201, (example["summary"], response.content)


def test_the_schema_builds_without_a_warning(tmp_path) -> None:
    """drf-spectacular's warnings (an enum named twice, a field it cannot type) are errors
    here: each one is a wart in every generated client."""
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_every_operation_is_tagged_with_its_resource() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    tags = {
        operation["operationId"]: operation["tags"]
        for operations in schema["paths"].values()
        for operation in operations.values()
    }
    assert tags["payments_create"] == ["payments"]
    assert tags["payout_batches_cancel"] == ["payout-batches"]
    assert all(len(names) == 1 for names in tags.values())


def test_every_operation_has_a_description_and_examples_of_its_body_and_answer() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            name = f"{operation['operationId']} ({method} {path})"
            if not operation.get("description"):
                missing.append(f"{name}: description")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and not body.get("examples"):
                missing.append(f"{name}: request example")
            for status, answer in operation["responses"].items():
                for media, content in answer.get("content", {}).items():
                    if not content.get("examples"):
                        missing.append(f"{name}: {status} {media} example")
    assert not missing, missing
