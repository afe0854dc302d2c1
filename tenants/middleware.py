"""Per-tenant rate limits on the API: separate budgets for reads and writes.

Every request under /api/ is counted (operator callbacks excepted: they are the operators',
not a tenant's, and have their own limits), before the idempotency middleware opens the
request's transaction, so the counter's statement runs on its own and locks nothing for the
rest of the request. Reads (GET, HEAD, OPTIONS) spend `RATE_LIMIT_READ`, anything else
`RATE_LIMIT_WRITE`, per tenant whichever of its keys is used, or per client address without a
valid key (sign-up, the schema, a wrong key; its view still answers 401). Every answer carries
the RateLimit-Policy and RateLimit headers; a request past its budget is answered 429
`rate_limited` with Retry-After, and spends no Idempotency-Key.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from gateway import errors, ratelimit
from tenants.authentication import resolve_caller

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_EXEMPT = ("/api/v1/webhooks/",)


def _bucket(request: HttpRequest) -> str:
    try:
        caller = resolve_caller(request)
    except errors.GatewayError:
        caller = None  # a bad key: counted by address, and its view answers the 401
    if caller is not None:
        return f"tenant:{caller.api_key.tenant_id}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/") or request.path.startswith(_EXEMPT):
            return self.get_response(request)
        policy = "read" if request.method in _READS else "write"
        rate = ratelimit.parse_rate(
            settings.RATE_LIMIT_READ if policy == "read" else settings.RATE_LIMIT_WRITE
        )
        try:
            usage = ratelimit.hit(policy=policy, bucket=_bucket(request), rate=rate)
        except (OperationalError, InterfaceError) as exc:
            return errors.problem_response(errors.as_gateway_error(exc) or errors.GatewayError())
        if usage is None:  # the counter is unreachable (Redis): fail open
            return self.get_response(request)
        if usage.exceeded:
            response = errors.problem_response(
                errors.RateLimited(f"Rate limit exceeded; retry in {usage.retry_after} s.")
            )
        else:
            response = self.get_response(request)
        for name, value in usage.headers().items():
            response[name] = value
        return response
