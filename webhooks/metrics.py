"""Counters of callbacks the gateway refused, dropped or throttled, on the default registry.

They are counted in memory, per process (each gunicorn worker keeps its own series: aggregate
with `sum by`), because what they count is mostly never stored.
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Counter


class Reason(StrEnum):
    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105  # a reason, not a secret; 404, not stored
    TOO_LARGE = "too_large"  # 413, stored truncated while the payment has room
    BAD_SIGNATURE = "bad_signature"  # 401, stored
    MALFORMED = "malformed"  # 400, stored
    QUOTA_FULL = "quota_full"  # 200, not stored: the payment has its maximum of callbacks
    THROTTLED = "throttled"  # 200, stored: a status check was requested moments ago


CALLBACKS_REJECTED = Counter(
    "gateway_callbacks_rejected",
    "Operator callbacks refused (unknown token, too large, bad signature, malformed), "
    "not stored (the payment's quota is full) or not acted on (throttled)",
    ["provider", "reason"],
)

# Every series exists from the start, so that rate() sees the first increment.
for _reason in Reason:
    CALLBACKS_REJECTED.labels(provider="mtn", reason=_reason)


def count_rejected(*, provider: str, reason: Reason) -> None:
    CALLBACKS_REJECTED.labels(provider=provider, reason=reason).inc()
