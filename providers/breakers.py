"""Circuit-breaker states shared between processes, for /health/ready.

Each process keeps its own breaker (in memory, no I/O on the hot path); a state *change* is
written to the shared cache, so a web process's readiness probe shows what the job workers,
which make nearly all operator calls, last saw.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

_KEY = "breaker:{provider}:{mode}"
_CHANGED_KEY = "breaker-changed:{provider}:{mode}"
_TTL_SECONDS = 24 * 3600


def publish(provider: str, mode: str, state: str) -> None:
    logger.warning(
        "circuit breaker changed state", extra={"provider": provider, "mode": mode, "state": state}
    )
    cache.set_many(
        {
            _KEY.format(provider=provider, mode=mode): state,
            _CHANGED_KEY.format(provider=provider, mode=mode): time.time(),
        },
        timeout=_TTL_SECONDS,
    )


def last_known(provider: str, mode: str) -> str:
    return str(cache.get(_KEY.format(provider=provider, mode=mode), "closed"))


def seconds_since_change(provider: str, mode: str) -> float | None:
    """How long ago a process last saw the breaker change state; None if never."""
    changed = cache.get(_CHANGED_KEY.format(provider=provider, mode=mode))
    return None if changed is None else time.time() - float(changed)
