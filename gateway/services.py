"""Housekeeping writes that belong to no business app."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection, transaction
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Job, Status
from procrastinate.manager import JobManager

logger = logging.getLogger(__name__)

MAX_STALLED_RETRIES = 5


def purge_expired_cache_entries(*, batch_size: int = 1000) -> int:
    """Delete expired rows of the database cache (breaker states, callback throttles), in
    batches.

    Django's database cache only culls when it grows past MAX_ENTRIES, so without this the
    table keeps every dead row forever.
    """
    if not isinstance(caches["default"], DatabaseCache):
        return 0  # Redis expires its own keys
    table = connection.ops.quote_name(settings.CACHE_TABLE)
    purged = 0
    while True:
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE cache_key IN ("  # noqa: S608  # nosec B608  # quoted setting, not input
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


async def recover_stalled_jobs(*, job_manager: JobManager, stalled_after: float) -> int:
    """Retry the jobs of workers that stopped heart-beating (SIGKILL, OOM, a lost host).

    Such a job stays `doing` forever, and its `lock` blocks every later job of the same
    payment. Retrying it releases the lock and runs it again; a payment job takes over the
    lease of its own dead attempt (payments.services._claim) and never sends twice, because
    the operator reference is fixed. When a copy of the job (same task, same arguments)
    already waits under the same queueing lock, the stalled job is retried in its place and
    the copy cancelled: only the dead attempt's own retry may take over its lease at once;
    the copy would wait for the lease to run out. A job whose waiting namesake differs is
    dropped instead (marked failed).
    """
    stalled = list(await job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after))
    for job in stalled:
        extra = {"job_id": job.id, "task": job.task_name, "attempts": job.attempts}
        if job.attempts >= MAX_STALLED_RETRIES:
            # A job that keeps killing its worker (out of memory, a crash in C) is given up;
            # a payment's own safety net (the poller) still finishes the payment.
            await job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
            logger.error("stalled job given up after repeated worker deaths", extra=extra)
            continue
        if await _retry(job_manager, job) or await _retry_in_place_of_copy(job_manager, job):
            logger.warning("stalled job retried", extra=extra)
        else:
            await job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
            logger.warning("stalled job dropped: the same job already waits", extra=extra)
    return len(stalled)


async def _retry(job_manager: JobManager, job: Job) -> bool:
    try:
        await job_manager.retry_job(job)
    except UniqueViolation:  # a job waits under the same queueing lock
        return False
    return True


async def _retry_in_place_of_copy(job_manager: JobManager, job: Job) -> bool:
    """Cancel a waiting copy of the job (only a job that has not started can be cancelled),
    then retry the job itself."""
    waiting = await job_manager.list_jobs_async(queueing_lock=job.queueing_lock, status="todo")
    for other in waiting:
        same = (other.task_name, other.task_kwargs) == (job.task_name, job.task_kwargs)
        if same and other.id is not None and await job_manager.cancel_job_by_id_async(other.id):
            return await _retry(job_manager, job)
    return False
