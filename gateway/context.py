"""Per-request (or per-job) context that logs and audit rows pick up without being passed it."""

from __future__ import annotations

from contextvars import ContextVar

# "-" rather than None so that a log line outside any request still formats cleanly.
request_id: ContextVar[str] = ContextVar("request_id", default="-")
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)
