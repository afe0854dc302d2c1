"""Per-request (or per-job) context that logs and audit rows pick up without being passed it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

# "-" rather than None so that a log line outside any request still formats cleanly.
request_id: ContextVar[str] = ContextVar("request_id", default="-")
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)


def _job_request_id(job_context: Any) -> str:
    job = job_context.job
    return f"job_{job.id}_{job.attempts}"


def job_context_sync(call_next: Callable[[], Any], job_context: Any, worker: Any) -> Any:
    """Procrastinate task middleware: a job's log lines carry `job_<id>_<attempt>`."""
    token = request_id.set(_job_request_id(job_context))
    try:
        return call_next()
    finally:
        request_id.reset(token)


async def job_context_async(
    call_next: Callable[[], Awaitable[Any]], job_context: Any, worker: Any
) -> Any:
    token = request_id.set(_job_request_id(job_context))
    try:
        return await call_next()
    finally:
        request_id.reset(token)
