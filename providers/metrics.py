"""Operator calls for Prometheus, counted once in providers.resilience.Transport (every
adapter's HTTP goes through it): latency by outcome, and errors by class."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from providers.base import Operation, Provider

# Operator calls take from milliseconds (a token) to tens of seconds (a read timeout).
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)

CALL_DURATION = Histogram(
    "gateway_operator_request_duration_seconds",
    "Operator HTTP calls, by operator, operation and outcome: the status class (2xx, 4xx, "
    "5xx) or, without an answer, the transport error",
    ["provider", "operation", "outcome"],
    buckets=_BUCKETS,
)
CALL_ERRORS = Counter(
    "gateway_operator_errors",
    "Operator calls that failed, by error class: connect_timeout, read_timeout, "
    "connection_refused, connection_dropped, connection, http_4xx, http_5xx",
    ["provider", "operation", "error"],
)

# The error series exist from the start (at 0), so that rate() sees the first increment.
for _provider in Provider:
    for _operation in (Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT, Operation.FETCH_STATUS):
        for _error in ("read_timeout", "connection_refused", "http_5xx"):
            CALL_ERRORS.labels(provider=_provider, operation=_operation, error=_error)


def observe(
    *, provider: str, operation: str, seconds: float, status: int | None, error: str
) -> None:
    """One finished call: `status` when the operator answered, else the transport `error`."""
    outcome = f"{status // 100}xx" if status is not None else error
    CALL_DURATION.labels(provider=provider, operation=operation, outcome=outcome).observe(seconds)
    if status is None or status >= 400:
        failure = error if status is None else f"http_{status // 100}xx"
        CALL_ERRORS.labels(provider=provider, operation=operation, error=failure).inc()
