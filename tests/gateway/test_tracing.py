"""Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set; when on, requests, database
queries and operator calls are spans, and JSON log lines carry the trace id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from opentelemetry import trace

from tests import live

ROOT = Path(__file__).resolve().parents[2]


def test_tracing_is_off_without_an_endpoint() -> None:
    assert settings.OTEL_EXPORTER_OTLP_ENDPOINT == ""
    assert not any("opentelemetry" in name for name in settings.MIDDLEWARE)
    assert not trace.get_current_span().get_span_context().is_valid
    # No provider was installed: the API's default proxy records nothing.
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"


@pytest.mark.django_db(transaction=True)
def test_requests_and_queries_are_spans_and_log_lines_carry_the_trace_id() -> None:
    # In a process of its own: a tracer provider and instrumentations are installed once per
    # process, and must not leak into the rest of the suite.
    script = """
import json, logging, sys
import django
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import tracing

exporter = InMemorySpanExporter()
tracing.configure(service_name="gateway-test", processor=SimpleSpanProcessor(exporter))
django.setup()
from django.test import Client

response = Client(HTTP_HOST="127.0.0.1").get("/health/live", HTTP_X_REQUEST_ID="trace-test-1")
assert response.status_code == 200, response.content
from opentelemetry.instrumentation.requests import RequestsInstrumentor
assert RequestsInstrumentor().is_instrumented_by_opentelemetry  # operator and webhook calls
print(json.dumps([
    {"name": s.name, "trace_id": f"{s.context.trace_id:032x}", "kind": s.kind.name,
     "service": s.resource.attributes["service.name"]}
    for s in exporter.get_finished_spans()
]))
"""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gateway.settings",
        "DATABASE_URL": live.database_url(),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)

    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith(("{", "["))]
    spans = lines[-1]
    server = [span for span in spans if span["kind"] == "SERVER"]
    assert len(server) == 1 and server[0]["service"] == "gateway-test"
    database = [span for span in spans if span["kind"] == "CLIENT"]
    assert database, spans  # /health/live runs SELECT 1 through psycopg
    assert {span["trace_id"] for span in spans} == {server[0]["trace_id"]}
    (access,) = [line for line in lines[:-1] if line.get("request_id") == "trace-test-1"]
    assert access["trace_id"] == server[0]["trace_id"]
    assert len(access["span_id"]) == 16
