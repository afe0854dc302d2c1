"""Assertions on RFC 9457 problem+json responses, shared by every suite."""

from __future__ import annotations

import json
from typing import Any

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "retryable", "request_id"}


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response.content)
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"/errors/{code}"
    assert body["request_id"] == response["X-Request-ID"]
    return body
