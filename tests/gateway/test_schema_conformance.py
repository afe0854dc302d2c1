"""The OpenAPI schema is true: every operation, called for real, answers a status the schema
documents, with a body that validates against that status's schema; the request examples the
schema ships (Swagger's "try it out" bodies) are accepted as they are."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs pinned

from audit.services import SYSTEM
from payments.models import Status
from payouts import services as payouts
from tenants.models import Mode
from tests.payments.factories import PaymentFactory, fund
from tests.tenants.factories import issue_key
from tests.webhooks.outbound.factories import endpoint_for, final_payment_event

pytestmark = pytest.mark.django_db

# Nothing listens here (a port of this worktree's range): ping and replay fail fast, as they
# would against a merchant that is down.
UNREACHABLE = "http://127.0.0.1:8851/hooks"
# Bodies used instead of the schema's own examples (which are validated against the schema all
# the same): an endpoint's example URL is a public host, which unit tests do not reach.
BODIES: dict[str, dict[str, Any]] = {
    "webhook_endpoints_create": {"url": UNREACHABLE},
    "webhook_endpoints_update": {"enabled": True},
    "webhook_endpoints_replay": {
        "created_after": "2026-01-01T00:00:00Z",
        "created_before": "2099-01-01T00:00:00Z",
    },
    "events_resend": {},
}
QUERIES = {"providers_predict": {"msisdn": "0961234567"}}
# Answers other than 2xx that are right here: the account lookup asks an operator that is not
# running in unit tests; only a queued payout can be cancelled, and this payment is final (so
# is nothing of the batch queued).
NOT_2XX = {
    "accounts_retrieve": {503},
    "payments_cancel": {409},
    "payout_batches_cancel": {409},
}


def _json_schema(node: Any, in_all_of: bool = False) -> Any:
    """OpenAPI 3.0's dialect to JSON Schema: `nullable` becomes a null type; and an object
    answered must have no field its schema does not document."""
    if isinstance(node, list):
        return [_json_schema(item, in_all_of) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: _json_schema(value, key == "allOf") for key, value in node.items() if key != "nullable"
    }
    if "properties" in converted and "additionalProperties" not in converted and not in_all_of:
        # Problem details may carry extension members (RFC 9457 §3.2); nothing else may.
        converted["additionalProperties"] = "request_id" in converted["properties"]
    if node.get("nullable"):
        if "type" in converted and "$ref" not in converted and "allOf" not in converted:
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


@pytest.fixture
def world(settings):
    settings.WEBHOOK_ALLOW_INSECURE = True
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 1.0
    key = issue_key()
    tenant = key.api_key.tenant
    doomed = issue_key(tenant=tenant)  # the one DELETE /api-keys/{id} revokes
    fund(tenant)
    collected = PaymentFactory.create(
        tenant=tenant, status=Status.SUCCESSFUL, completed_at=timezone.now()
    )
    endpoint, _ = endpoint_for(tenant, UNREACHABLE)
    event = final_payment_event(tenant)
    batch = payouts.create_payout_batch(
        tenant=tenant,
        mode=Mode.TEST,
        currency="ZMW",
        items=[payouts.BatchItem(amount=Decimal("5.00"), msisdn="260961234567", external_id="b-1")],
        actor=SYSTEM,
    )
    return {
        "secret": key.secret,
        "path": {
            "payments": collected.public_id,
            "api-keys": str(doomed.api_key.pk),
            "webhook-endpoints": endpoint.public_id,
            "events": event.public_id,
            "accounts": "0961234567",
            "payout-batches": batch.public_id,
        },
    }


def _concrete(path: str, values: dict[str, str]) -> str:
    parts = path.split("/")
    return "/".join(values[parts[i - 1]] if p.startswith("{") else p for i, p in enumerate(parts))


def _example_body(operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    examples = content.get("examples", {})
    return next(iter(examples.values()))["value"] if examples else None


def test_every_operation_answers_as_its_schema_says(world) -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = _json_schema(schema["components"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {world['secret']}")
    answered: dict[str, int] = {}
    # DELETE last: revoking or deleting must not take objects from the operations after it.
    calls = sorted(
        ((path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()),
        key=lambda call: call[1] == "delete",
    )
    for path, method, operation in calls:
        name = operation["operationId"]
        body = BODIES.get(name, _example_body(operation))
        if body is None and "requestBody" in operation:
            body = {}
        url = _concrete(path, world["path"])
        if name in QUERIES:
            url += "?" + urlencode(QUERIES[name])
        response = getattr(client, method)(
            url,
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
        )
        status = str(response.status_code)
        answered[name] = response.status_code
        # A streamed answer (the reports) is read whole here.
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert status in operation["responses"], (name, status, content)
        documented = operation["responses"][status].get("content")
        if not documented:
            assert not content, name
            continue
        media = response["Content-Type"].split(";")[0]
        assert media in documented, (name, media)
        validator = Draft202012Validator({**documented[media]["schema"], "components": components})
        errors = [
            f"{list(e.absolute_path)}: {e.message}"
            for e in validator.iter_errors(json.loads(content))
        ]
        assert not errors, (name, status, errors)

    failed = {
        name: status
        for name, status in answered.items()
        if not 200 <= status < 300 and status not in NOT_2XX.get(name, set())
    }
    assert not failed, failed
    assert len(answered) >= 28


def test_every_shipped_example_validates_against_its_schema() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = _json_schema(schema["components"])
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            media = [operation.get("requestBody", {}).get("content", {})]
            media += [answer.get("content", {}) for answer in operation["responses"].values()]
            for content in media:
                for documented in content.values():
                    validator = Draft202012Validator(
                        {**documented["schema"], "components": components}
                    )
                    for name, example in documented.get("examples", {}).items():
                        errors = [e.message for e in validator.iter_errors(example["value"])]
                        assert not errors, (method, path, name, errors)
                        checked += 1
    assert checked > 100  # every problem status's examples, and the payments' own
