from __future__ import annotations

import io
import json
import logging

import pytest
from django.test import Client

from gateway.logging import JsonFormatter, RequestIdFilter


def test_sane_incoming_request_id_is_echoed() -> None:
    response = Client().get("/health", HTTP_X_REQUEST_ID="client-req-0001")

    assert response["X-Request-ID"] == "client-req-0001"


@pytest.mark.parametrize("incoming", ["", "short", "x" * 200, "bad id\r\nX-Evil: 1", "<script>"])
def test_insane_incoming_request_id_is_replaced(incoming: str) -> None:
    response = Client().get("/health", HTTP_X_REQUEST_ID=incoming)

    assert response["X-Request-ID"].startswith("req_")
    assert response["X-Request-ID"] != incoming


def test_generated_request_ids_differ() -> None:
    assert Client().get("/health")["X-Request-ID"] != Client().get("/health")["X-Request-ID"]


@pytest.mark.django_db
def test_every_log_line_of_a_request_is_json_with_its_request_id(api) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        response = api.get("/api/v1/api-keys", HTTP_X_REQUEST_ID="trace-abc-123")
        logging.getLogger("after").warning("outside any request")
    finally:
        root.removeHandler(handler)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    in_request = [line for line in lines if line["logger"] != "after"]
    assert response["X-Request-ID"] == "trace-abc-123"
    assert in_request and all(line["request_id"] == "trace-abc-123" for line in in_request)
    access = next(line for line in in_request if line["message"] == "request finished")
    assert access["status"] == 200 and access["path"] == "/api/v1/api-keys"
    assert {"time", "level"} <= access.keys()
    assert lines[-1]["request_id"] == "-"
