"""Per-request (or per-job) context that logs and audit rows pick up without being passed it."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

# "-" rather than None so that a log line outside any request still formats cleanly.
request_id: ContextVar[str] = ContextVar("request_id", default="-")
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)

job_logger = logging.getLogger("gateway.jobs")


def _job_request_id(job_context: Any) -> str:
    job = job_context.job
    return f"job_{job.id}_{job.attempts}"


def _log_outcome(job_context: Any, started: float, error: BaseException | None) -> None:
    """One concise line per job (Procrastinate's own two lines per job, each carrying the
    whole job twice, are kept for DEBUG). Runs of periodic jobs that went well are DEBUG."""
    job = job_context.job
    periodic = {name for name, _ in job_context.app.periodic_registry.periodic_tasks}
    extra: dict[str, Any] = {
        "task": job.task_name,
        "job_id": job.id,
        "attempt": job.attempts,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "outcome": "failed" if error else "succeeded",
    }
    if "payment_id" in job.task_kwargs:
        extra["payment_pk"] = job.task_kwargs["payment_id"]
    if error is not None:
        extra["error"] = f"{type(error).__name__}: {error}"[:300]
        job_logger.warning("job failed", extra=extra)
    elif job.task_name in periodic:
        job_logger.debug("job done", extra=extra)
    else:
        job_logger.info("job done", extra=extra)


def job_context_sync(call_next: Callable[[], Any], job_context: Any, worker: Any) -> Any:
    """Procrastinate task middleware: a job's log lines carry `job_<id>_<attempt>`, and its
    outcome is one line."""
    token = request_id.set(_job_request_id(job_context))
    started = time.perf_counter()
    try:
        result = call_next()
    except BaseException as error:
        _log_outcome(job_context, started, error)
        raise
    else:
        _log_outcome(job_context, started, None)
        return result
    finally:
        request_id.reset(token)


async def job_context_async(
    call_next: Callable[[], Awaitable[Any]], job_context: Any, worker: Any
) -> Any:
    token = request_id.set(_job_request_id(job_context))
    started = time.perf_counter()
    try:
        result = await call_next()
    except BaseException as error:
        _log_outcome(job_context, started, error)
        raise
    else:
        _log_outcome(job_context, started, None)
        return result
    finally:
        request_id.reset(token)
