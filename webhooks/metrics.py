"""Counters of operator callbacks: the ones stored, by outcome, with their lag behind the
payment's submission, and the ones refused, dropped or throttled (mostly never stored).

Counted in memory by the web process that answers (summed across gunicorn workers in
multiprocess mode: gateway/metrics.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.utils import timezone
from prometheus_client import Counter, Histogram

from providers.base import Provider

if TYPE_CHECKING:
    from webhooks.models import InboundCallback


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
for _provider in Provider:
    for _reason in Reason:
        CALLBACKS_REJECTED.labels(provider=_provider, reason=_reason)


def count_rejected(*, provider: str, reason: Reason) -> None:
    CALLBACKS_REJECTED.labels(provider=provider, reason=reason).inc()


CALLBACKS_RECEIVED = Counter(
    "gateway_callbacks_received",
    "Operator callbacks stored for a known payment, by operator and outcome",
    ["provider", "outcome"],
)
# From the payment's submission to a callback for it: how far behind the operator is.
CALLBACK_LAG = Histogram(
    "gateway_callback_lag_seconds",
    "Seconds from a payment's submission to the operator's callback for it",
    ["provider"],
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
)


def count_received(callback: InboundCallback) -> None:
    CALLBACKS_RECEIVED.labels(provider=callback.provider, outcome=callback.outcome).inc()
    submitted_at = callback.payment.submitted_at if callback.payment else None
    if submitted_at is not None:
        lag = (timezone.now() - submitted_at).total_seconds()
        CALLBACK_LAG.labels(provider=callback.provider).observe(max(0.0, lag))
