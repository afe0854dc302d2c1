"""Schema additions every API operation shares: stable operation ids, problem+json errors
with their real codes, Idempotency-Key and the RateLimit headers."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.openapi import AutoSchema

from gateway import errors, queryparams
from payments import idempotency
from payouts.models import MAX_ITEMS as MAX_BATCH_ITEMS
from providers import routing
from webhooks.outbound import ssrf


class GatewayAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, documenting each read's declared query parameters
    (gateway.queryparams: the same list the API enforces)."""

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = list(super().get_override_parameters())
        if self.method == "GET":
            parameters = [*queryparams.query_serializers(type(self.view)), *parameters]
        return parameters


_MUTATING = {"post", "put", "patch", "delete"}
_PROBLEM: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable; see /errors/ for the list.",
    "required": ["type", "title", "status", "detail", "code", "retryable", "request_id"],
    "properties": {
        "type": {"type": "string", "example": "/errors/validation_error"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},  # its enum is filled in when the schema is built
        "retryable": {"type": "boolean"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Validation errors only: each names its field as a dotted path "
            "(`items.17.msisdn`); a payout batch's also carry the JSON pointer (RFC 6901) of "
            "the field (`/items/17/msisdn`) and the code the item was refused with.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "pointer": {"type": "string", "example": "/items/17/msisdn"},
                    "code": {"type": "string", "example": "validation_error"},
                },
            },
        },
    },
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry with the same key and body to get the first answer again, byte for "
    "byte (Idempotent-Replayed: true). 1-255 printable ASCII characters; kept 24 h.",
    "schema": {"type": "string", "pattern": idempotency.VALID_KEY.pattern},
}
_DESCRIPTIONS = {
    "400": "Invalid request (validation errors list each field)",
    "401": "Missing, invalid, revoked or expired API key",
    "403": "X-Tenant-ID does not match the key, or the key may not do this (test_mode_only)",
    "404": "Not found (another tenant's or mode's objects are not found either)",
    "402": "The balance does not cover the amount and its fee",
    "409": "Conflict with the resource's state, or the Idempotency-Key is in use",
    "413": "The request body is too large",
    "415": "The body is not application/json",
    "422": "Well-formed, but refused by a rule (limits, refunds, Idempotency-Key reuse)",
    "429": "Rate limit exceeded (see Retry-After)",
    "503": "The gateway or the operator is unavailable: retry with the same Idempotency-Key",
}
# Payments (and payout batches) answer 402 and 503 provider_unavailable too; every mutation
# can be 409/413/415/422.
_PAYMENT_WRITES = {"payments_create", "payments_refund", "payout_batches_create"}
# On every /api/ answer (tenants.middleware): the budget counted, and what is left of it.
_RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": 'The budget this request counts against: `"read";q=600;w=60` (IETF '
        "draft-ietf-httpapi-ratelimit-headers).",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it: `"read";r=599;t=60`, requests left and seconds '
        "until the window ends.",
        "schema": {"type": "string"},
    },
}


def add_problems_and_idempotency(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK."""
    # Every error class is registered by now (all views, and so all apps' errors, are loaded).
    codes_enum = {"type": "string", "enum": sorted(errors.GatewayError.registry)}
    schema = {**_PROBLEM, "properties": {**_PROBLEM["properties"], "code": codes_enum}}
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = schema
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            codes = ["400", "404", "429", "503"]
            if operation.get("security"):
                codes += ["401", "403"]
            if method in _MUTATING:
                codes += ["409", "422"]
                operation.setdefault("parameters", []).append(_IDEMPOTENCY_KEY)
            if "requestBody" in operation:
                codes += ["413", "415"]
            if operation_id(path, method, returns_list=False) in _PAYMENT_WRITES:
                codes += ["402"]
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(code, _problem_response(int(code)))
            for response in responses.values():
                response.setdefault("headers", {}).update(_RATE_LIMIT_HEADERS)
    return result


def _problem_response(status: int) -> dict[str, Any]:
    """The codes an answer of this status can carry, each with an example body."""
    classes = sorted(
        (c for c in errors.GatewayError.registry.values() if c.status == status and c.api),
        key=lambda c: c.code,
    )
    codes = [c.code for c in classes]
    return {
        "description": f"{_DESCRIPTIONS[str(status)]}. code: {', '.join(codes)}",
        "content": {
            "application/problem+json": {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Problem"},
                        {"type": "object", "properties": {"code": {"enum": codes}}},
                    ]
                },
                "examples": {c.code: {"summary": c.title, "value": _example(c)} for c in classes},
            }
        },
    }


def _example(error_class: type[errors.GatewayError]) -> dict[str, Any]:
    return {
        "type": f"{errors.PROBLEM_TYPE_PATH}{error_class.code}",
        "title": error_class.title,
        "status": error_class.status,
        "detail": error_class.title,
        "code": error_class.code,
        "retryable": error_class.retryable,
        "request_id": "req_9c1f2e7b5a3d4c6e8f0a1b2c3d4e5f60",
    }


# The last segment of these paths is what the operation does, not a collection.
_VERBS = {
    "register",
    "rotate",
    "predict",
    "refund",
    "cancel",
    "ping",
    "replay",
    "rotate-secret",
    "resend",
}
_ACTIONS = {"patch": "update", "put": "replace", "delete": "delete"}


def operation_id(path: str, method: str, returns_list: bool) -> str:
    """`payments_list`, `payments_create`, `payments_retrieve`, `payments_refund`, …: named
    by the path's nouns and what the method does, so generated clients read well and the
    ids stay put when views are renamed."""
    parts = path.removeprefix("/api/v1/").strip("/").split("/")
    nouns = "_".join(p.replace("-", "_") for p in parts if not p.startswith("{"))
    if parts[-1] in _VERBS:
        return nouns
    if method in _ACTIONS:
        return f"{nouns}_{_ACTIONS[method]}"
    if method == "post":
        return f"{nouns}_create"
    return (
        f"{nouns}_list" if returns_list and not parts[-1].startswith("{") else f"{nouns}_retrieve"
    )


def _returns_list(operation: dict[str, Any], schemas: dict[str, Any]) -> bool:
    for code in ("200", "201"):
        content = operation.get("responses", {}).get(code, {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
        component = schemas.get(ref.rsplit("/", 1)[-1], {})
        if component.get("properties", {}).get("data", {}).get("type") == "array":
            return True
    return False


def amount_pattern(maximum: Decimal) -> str:
    """An amount a client sends: > 0 (a non-zero digit somewhere), at most 2 decimal places,
    at most `maximum`, plain ASCII digits (Python's Decimal would also read other scripts'
    digits). drf-spectacular's own pattern allowed "", "." and a minus sign."""
    whole = str(int(maximum))
    cents = "(?:\\.[0-9]{1,2})?"
    # Fewer digits than the maximum, then as many with a smaller digit at some position.
    below = [f"[0-9]{{1,{len(whole) - 1}}}"] if len(whole) > 1 else []
    for i, digit in enumerate(whole):
        low = 1 if i == 0 and len(whole) > 1 else 0
        if int(digit) > low:
            rest = len(whole) - i - 1
            below.append(
                f"{whole[:i]}[{low}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else "")
            )
    alternatives = [f"(?:{'|'.join(below)}){cents}"] if below else []
    if maximum == int(maximum):
        alternatives.append(f"{whole}(?:\\.00?)?")
    return f"^(?=[0-9.]*[1-9])(?:{'|'.join(alternatives)})$"


def _amount_maxima() -> dict[str, Decimal]:
    # Imported when the schema is built: payments.services imports the models, which the
    # settings (that name this module's hooks) must not need.
    from payments.services import TEST_TOP_UP_MAX

    payment = Decimal(settings.PAYMENT_MAX_AMOUNT)
    return {
        "PaymentCreateRequest": payment,
        "RefundCreateRequest": payment,
        "PayoutItemCreateRequest": payment,
        "TopUpCreateRequest": TEST_TOP_UP_MAX,
    }


def positive_money_inputs(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK: every amount a client sends is > 0 (min_value
    0.01), but drf-spectacular's decimal pattern allows a minus sign, and Swagger's generated
    body used it (`"amount": "-9219231"`, a 400 when sent)."""
    maxima = _amount_maxima()
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for field in component.get("properties", {}).values():
            if field.get("format") == "decimal" and "pattern" in field:
                field["pattern"] = amount_pattern(maxima.get(name, Decimal(10**12)))
                field.setdefault("example", "150.00")
    return result


# Opaque, minted by the gateway (a list answer's next/previous link): base64 text.
_CURSOR = {
    "type": "string",
    "pattern": "^[A-Za-z0-9+/]+={0,2}$",
    "description": "Opaque: take it from a list answer's next or previous link, as it is.",
}


def webhook_url_pattern() -> str:
    """What webhooks.outbound.ssrf accepts before DNS: https, a host name (no address literal,
    no local-network name, labels of 1-63 characters), an allowed port, no credentials, no
    fragment, no whitespace or backslash. Whether the name resolves to a public address is
    decided when the URL is given (and again at each delivery)."""
    local = "|".join(dict.fromkeys(re.escape(name.lstrip(".")) for name in ssrf.LOCAL_NAMES))
    ports = "|".join(str(port) for port in settings.WEBHOOK_ALLOWED_PORTS)
    label = "[a-z0-9-]{1,63}"
    return (
        f"^https://(?!(?:{label}\\.)*(?:{local})(?:[:/?]|$))"
        f"(?:{label}\\.)*[a-z][a-z0-9-]{{0,62}}(?::(?:{ports}))?"
        "(?:[/?][\\x21\\x22\\x24-\\x5b\\x5d-\\x7e]*)?$"
    )


def precise_inputs(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK: the constraints the gateway enforces on what it
    reads, which drf-spectacular cannot see in the fields' code (a schema-valid request must
    not be refused for its syntax): wallet numbers, the one currency, webhook URLs, and cursors."""
    msisdn = {"pattern": routing.SUPPORTED_MSISDN_PATTERN, "maxLength": 32}
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        fields = component.get("properties", {})
        for field_name in ("msisdn", "payer"):
            if field_name in fields:
                fields[field_name].update(msisdn)
        if "payer" in fields:
            # `payer` is msisdn's legacy alias (docs/api.md), still read but not offered: a
            # `oneOf` of the two would be exact, but client generators drop such a body.
            del fields["payer"]
            component["required"] = sorted({*component.get("required", []), "msisdn"})
        if name == "PayoutBatchCreateRequest":  # DRF's many=True lengths, which it omits
            fields["items"].update({"minItems": 1, "maxItems": MAX_BATCH_ITEMS})
        if "currency" in fields:
            fields["currency"].pop("pattern", None)
            fields["currency"]["enum"] = ["ZMW"]
        if name.startswith(("WebhookEndpoint", "PatchedWebhookEndpoint")) and "url" in fields:
            fields["url"].update(
                {"pattern": webhook_url_pattern(), "maxLength": ssrf.MAX_URL_LENGTH}
            )
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "msisdn":
                    parameter["schema"].update(msisdn)
                elif parameter["name"] == "cursor" and parameter["in"] == "query":
                    parameter["schema"] = {**_CURSOR}
    return result


def link_created_objects(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK (after name_operations): OpenAPI links from each
    answer that creates an object (201, its `id`) to the operations on that object, e.g.
    payments_create to payments_retrieve, payments_refund and payments_cancel. Generated
    clients and a fuzzer's stateful phase follow them."""
    paths = result.get("paths", {})
    for path, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        parts = path.rstrip("/").split("/")
        braced = [i for i, part in enumerate(parts) if part.startswith("{")]
        collection = "/".join(
            parts[: braced[0]] if braced else parts[:-1] if parts[-1] in _VERBS else parts
        )
        for target, target_operations in paths.items():
            if not target.startswith(f"{collection}/{{"):
                continue
            parameter = target.removeprefix(f"{collection}/{{").split("}", 1)[0]
            for target_operation in target_operations.values():
                created.setdefault("links", {})[target_operation["operationId"]] = {
                    "operationId": target_operation["operationId"],
                    "parameters": {parameter: "$response.body#/id"},
                }
    return result


def name_operations(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK: every API operation gets operation_id(), and the
    tag of its resource (`payments`, `payout-batches`, …)."""
    schemas = result.get("components", {}).get("schemas", {})
    seen: dict[str, str] = {}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            name = operation_id(path, method, _returns_list(operation, schemas))
            if name in seen:
                raise ValueError(f"operation id {name} of {method} {path} is {seen[name]}'s too")
            seen[name] = f"{method} {path}"
            operation["operationId"] = name
            # Grouped by resource (Swagger's sections, a generated client's modules).
            operation["tags"] = [path.removeprefix("/api/v1/").split("/")[0]]
    return result


def add_examples(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK (after name_operations): the examples and
    descriptions of gateway.openapi_examples, where a view declares none of its own."""
    from gateway.openapi_examples import OPERATIONS

    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            extra = OPERATIONS.get(operation.get("operationId", ""), {})
            if "description" in extra:
                operation.setdefault("description", extra["description"])
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and "request" in extra and not body.get("examples"):
                body["examples"] = {"Example": {"value": extra["request"]}}
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {}).get("application/json")
                if status.startswith("2") and content is not None and "response" in extra:
                    content.setdefault("examples", {"Example": {"value": extra["response"]}})
    return result
