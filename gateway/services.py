"""Housekeeping writes that belong to no business app."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection, transaction

logger = logging.getLogger(__name__)


def purge_expired_cache_entries(*, batch_size: int = 1000) -> int:
    """Delete expired rows of the database cache (rate-limit windows, mostly), in batches.

    Django's database cache only culls when it grows past MAX_ENTRIES, so without this the
    table keeps one dead row per tenant per rate-limit window forever.
    """
    if not isinstance(caches["default"], DatabaseCache):
        return 0  # Redis expires its own keys
    table = connection.ops.quote_name(settings.CACHE_TABLE)
    purged = 0
    while True:
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE cache_key IN ("  # noqa: S608  # quoted setting, not input
                f" SELECT cache_key FROM {table} WHERE expires < now()"
                " ORDER BY expires LIMIT %s FOR UPDATE SKIP LOCKED)",
                [batch_size],
            )
            deleted: int = cursor.rowcount
        purged += deleted
        if deleted < batch_size:
            break
    if purged:
        logger.info("purged expired cache entries", extra={"count": purged})
    return purged
