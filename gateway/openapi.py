"""Schema additions every API operation shares: problem+json errors, Idempotency-Key and
the RateLimit headers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

from gateway import errors, queryparams


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
            "description": "Validation errors only.",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
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
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_DESCRIPTIONS = {
    "400": "Invalid request (validation errors list each field)",
    "401": "Missing, invalid, revoked or expired API key",
    "403": "X-Tenant-ID does not match the key, or the key may not do this (test_mode_only)",
    "404": "Not found (another tenant's or mode's objects are not found either)",
    "409": "Conflict: duplicate external_id, or the Idempotency-Key is in use",
    "422": "Idempotency-Key reused with a different request",
    "429": "Rate limit exceeded (see Retry-After)",
}
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
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            codes = ["400", "404", "429"]
            if operation.get("security"):
                codes += ["401", "403"]
            if method in _MUTATING:
                codes += ["409", "422"]
                operation.setdefault("parameters", []).append(_IDEMPOTENCY_KEY)
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(code, {"description": _DESCRIPTIONS[code], "content": problem})
            for response in responses.values():
                response.setdefault("headers", {}).update(_RATE_LIMIT_HEADERS)
    return result
