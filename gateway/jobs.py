"""Periodic housekeeping. Each job is one call; the work lives in services."""

from __future__ import annotations

from django.conf import settings
from procrastinate import JobContext
from procrastinate.contrib.django import app

from gateway import ratelimit, schedules, services


@app.periodic(cron=schedules.every_seconds(settings.JOB_RECOVERY_INTERVAL_SECONDS))
@app.task(queue="scheduler", name="gateway.recover_stalled_jobs", pass_context=True)
async def recover_stalled_jobs(context: JobContext, timestamp: int) -> None:
    await services.recover_stalled_jobs(
        job_manager=context.app.job_manager, stalled_after=settings.WORKER_STALLED_SECONDS
    )


@app.periodic(cron="*/15 * * * *")
@app.task(queue="maintenance", name="gateway.purge_expired_cache_entries")
def purge_expired_cache_entries(timestamp: int) -> None:
    services.purge_expired_cache_entries()


@app.periodic(cron="*/15 * * * *")
@app.task(queue="maintenance", name="gateway.purge_expired_rate_counters")
def purge_expired_rate_counters(timestamp: int) -> None:
    ratelimit.purge_expired()


@app.periodic(cron="30 * * * *")
@app.task(queue="maintenance", name="gateway.purge_finished_jobs", pass_context=True)
async def purge_finished_jobs(context: JobContext, timestamp: int) -> None:
    # Procrastinate's own query: finished jobs older than the retention, failed ones included.
    await context.app.job_manager.delete_old_jobs(
        nb_hours=settings.JOB_RETENTION_DAYS * 24,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )
