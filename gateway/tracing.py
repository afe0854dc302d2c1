"""OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

When on, every process (web and job workers) traces Django requests, outgoing `requests`
calls (operators, merchants' webhooks) and psycopg queries, exports them over OTLP/HTTP to
that endpoint (the exporter reads the standard OTEL_* variables itself), and the JSON log
lines written inside a span carry its `trace_id` and `span_id`.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter


def configure(*, service_name: str, processor: SpanProcessor | None = None) -> None:
    """Install the tracer provider and the instrumentations, once per process. `processor`
    replaces the OTLP exporter (tests use an in-memory one)."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(processor or BatchSpanProcessor(_otlp_exporter()))
    trace.set_tracer_provider(provider)
    # Adds its middleware to settings.MIDDLEWARE: this must run before the first request
    # handler is built (AppConfig.ready() is early enough).
    DjangoInstrumentor().instrument()
    RequestsInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)


def _otlp_exporter() -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def log_ids() -> dict[str, str]:
    """The current span's ids for a log line, or nothing outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
