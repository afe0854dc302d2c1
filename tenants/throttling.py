"""Per-tenant rate limit with django-ratelimit, on the cache every process shares."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django_ratelimit.core import get_usage  # type: ignore[import-untyped]  # no type hints
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from tenants.authentication import ApiCaller


def _rate_key(group: str, request: Any) -> str:
    # Keyed by tenant, not by key, so that rotating or adding keys does not multiply the
    # budget; anonymous endpoints (sign-up) are keyed by client address.
    caller = getattr(request, "user", None)
    if isinstance(caller, ApiCaller):
        return f"tenant:{caller.api_key.tenant_id}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


class TenantRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.seconds_left = 1

    def allow_request(self, request: Request, view: Any) -> bool:
        usage = get_usage(
            request, group="api", key=_rate_key, rate=settings.RATE_LIMIT, increment=True
        )
        if usage is None:  # RATELIMIT_ENABLE=False
            return True
        self.seconds_left = max(1, usage["time_left"])
        return not usage["should_limit"]

    def wait(self) -> float:
        return self.seconds_left
