"""Circuit-breaker states shared between processes, for /health/ready.

Each process keeps its own breaker (in memory, no I/O on the hot path); a state *change* is
written to the shared cache, so a web process's readiness probe shows what the job workers,
which make nearly all operator calls, last saw.
"""

from __future__ import annotations

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

_KEY = "breaker:{provider}:{mode}"
_TTL_SECONDS = 24 * 3600


def publish(provider: str, mode: str, state: str) -> None:
    logger.warning(
        "circuit breaker changed state", extra={"provider": provider, "mode": mode, "state": state}
    )
    cache.set(_KEY.format(provider=provider, mode=mode), state, timeout=_TTL_SECONDS)


def last_known(provider: str, mode: str) -> str:
    return str(cache.get(_KEY.format(provider=provider, mode=mode), "closed"))
