"""Rate-limit counters that every process shares: one atomic statement per request.

A budget is `limit` requests per fixed window of `period` seconds; a bucket's window starts at
its first request and a new one at the first request after it ends. Counting is exact under
any concurrency, because the increment and the read of the new count are one atomic
operation, and it holds no lock beyond that operation:

- PostgreSQL (the default): one row per bucket in the unlogged table `gateway_rate_counter`
  (unlogged: no WAL, so no fsync; a crash empties it, which only resets the windows), counted
  by one `INSERT … ON CONFLICT DO UPDATE … RETURNING`. Call it outside any transaction
  (autocommit), so the row lock lasts for that one statement and not for the request: a
  tenant's requests never queue behind each other.
- Redis, when `REDIS_URL` is set: `INCR` and `PEXPIRE` in one Lua script. A Redis that cannot
  be reached fails open (the request goes on, unlimited, and a warning is logged): the
  database, not Redis, is what a payment needs.

The answer carries the IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers):
`RateLimit-Policy: "write";q=100;w=60` and `RateLimit: "write";r=42;t=17`.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

TABLE = "gateway_rate_counter"
_RATE = re.compile(r"^([1-9][0-9]*)/([1-9][0-9]*)?([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# The whole decision in one statement: a window still running counts one more hit; an ended
# one (or none) starts again at 1. statement_timestamp() is one instant for the statement.
_HIT_SQL = f"""
INSERT INTO {TABLE} AS counter (bucket, hits, window_ends)
VALUES (%s, 1, statement_timestamp() + %s * interval '1 second')
ON CONFLICT (bucket) DO UPDATE SET
    hits = CASE WHEN counter.window_ends > statement_timestamp()
                THEN counter.hits + 1 ELSE 1 END,
    window_ends = CASE WHEN counter.window_ends > statement_timestamp()
                       THEN counter.window_ends ELSE EXCLUDED.window_ends END
RETURNING hits, EXTRACT(EPOCH FROM window_ends - statement_timestamp())::float8
"""  # noqa: S608  # nosec B608  # a constant table name, no input

_REDIS_HIT = """
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
"""


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds


@functools.cache
def parse_rate(text: str) -> Rate:
    """`N/s`, `N/m`, `N/h`, `N/d`, or with a multiple of the unit: `N/5m`."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"not a rate: {text!r} (use N/s, N/m, N/h, N/d or N/5m)")
    count, multiple, unit = match.groups()
    return Rate(limit=int(count), period=int(multiple or 1) * _UNIT_SECONDS[unit])


@dataclass(frozen=True)
class Usage:
    """A bucket's count after this request, and what to tell the client."""

    policy: str
    rate: Rate
    hits: int
    reset_seconds: float  # until the window ends

    @property
    def exceeded(self) -> bool:
        return self.hits > self.rate.limit

    @property
    def remaining(self) -> int:
        return max(0, self.rate.limit - self.hits)

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_seconds))

    def headers(self) -> dict[str, str]:
        reset = max(0, math.ceil(self.reset_seconds))
        headers = {
            "RateLimit-Policy": f'"{self.policy}";q={self.rate.limit};w={self.rate.period}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={reset}',
        }
        if self.exceeded:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def hit(*, policy: str, bucket: str, rate: Rate) -> Usage | None:
    """Count one request against `bucket`; None only when Redis is unreachable (fail open).

    Raises the database's error (OperationalError, InterfaceError) when PostgreSQL is down.
    """
    key = f"{policy}:{bucket}"
    if settings.REDIS_URL:
        counted = _hit_redis(key, rate.period)
        if counted is None:
            return None
        hits, reset = counted
    else:
        with connection.cursor() as cursor:
            cursor.execute(_HIT_SQL, [key, rate.period])
            hits, reset = cursor.fetchone()
    return Usage(policy=policy, rate=rate, hits=int(hits), reset_seconds=float(reset))


def _hit_redis(key: str, period: int) -> tuple[int, float] | None:
    import redis

    try:
        hits, ttl_ms = _redis_script(settings.REDIS_URL)(
            keys=[f"ratelimit:{key}"], args=[period * 1000]
        )
    except redis.RedisError:
        logger.warning("rate limit not counted: Redis unavailable", extra={"bucket": key})
        return None
    return int(hits), int(ttl_ms) / 1000


@functools.cache
def _redis_script(url: str) -> Any:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return client.register_script(_REDIS_HIT)


def purge_expired(*, batch_size: int = 1000) -> int:
    """Delete PostgreSQL counters whose window ended (a tenant or address gone quiet)."""
    if settings.REDIS_URL:
        return 0  # Redis expires its own keys
    purged = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE bucket IN ("  # noqa: S608  # nosec B608  # a constant table name
                f" SELECT bucket FROM {TABLE} WHERE window_ends < statement_timestamp()"
                " LIMIT %s FOR UPDATE SKIP LOCKED)",
                [batch_size],
            )
            deleted: int = cursor.rowcount
        purged += deleted
        if deleted < batch_size:
            break
    if purged:
        logger.info("purged expired rate-limit counters", extra={"count": purged})
    return purged
