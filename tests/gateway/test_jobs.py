"""Procrastinate is wired into Django: jobs commit with the transaction that defers them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from gateway import jobs
from tests import live

pytestmark = pytest.mark.django_db(transaction=True)  # a real worker needs committed rows

TASK = "gateway.purge_expired_cache_entries"


class Rollback(Exception):
    pass


def _expire(key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE gateway_cache SET expires = %s WHERE cache_key = %s",
            [timezone.now() - timedelta(minutes=1), cache.make_and_validate_key(key)],
        )


def _cache_keys() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM gateway_cache")
        return {row[0] for row in cursor.fetchall()}


def _run_worker() -> None:
    live.run_worker(queues=["maintenance"])


def test_job_deferred_in_rolled_back_transaction_never_runs() -> None:
    cache.set("stale", "x", timeout=60)
    _expire("stale")

    with pytest.raises(Rollback), transaction.atomic():
        jobs.purge_expired_cache_entries.defer(timestamp=0)  # type: ignore[call-arg]  # periodic
        raise Rollback

    assert not ProcrastinateJob.objects.filter(task_name=TASK).exists()
    _run_worker()
    assert cache.make_and_validate_key("stale") in _cache_keys()


def test_job_deferred_in_committed_transaction_runs_and_purges_expired_entries() -> None:
    cache.set("stale", "x", timeout=60)
    cache.set("fresh", "y", timeout=600)
    _expire("stale")

    with transaction.atomic():
        job_id = jobs.purge_expired_cache_entries.defer(timestamp=0)  # type: ignore[call-arg]  # periodic

    assert ProcrastinateJob.objects.get(id=job_id).status == "todo"
    _run_worker()
    assert ProcrastinateJob.objects.get(id=job_id).status == "succeeded"
    keys = _cache_keys()
    assert cache.make_and_validate_key("fresh") in keys
    assert cache.make_and_validate_key("stale") not in keys


def test_housekeeping_jobs_are_periodic() -> None:
    periodic = {task.task.name for task in app.periodic_registry.periodic_tasks.values()}

    assert {TASK, "gateway.purge_finished_jobs"} <= periodic


def test_job_log_lines_carry_the_job_id(caplog) -> None:
    from gateway.logging import RequestIdFilter

    with transaction.atomic():
        job_id = jobs.purge_expired_cache_entries.defer(timestamp=0)  # type: ignore[call-arg]  # periodic
    cache.set("stale", "x", timeout=60)
    _expire("stale")

    _run_worker()

    purged = [r for r in caplog.records if r.getMessage() == "purged expired cache entries"]
    assert purged
    RequestIdFilter().filter(purged[0])
    assert purged[0].request_id == f"job_{job_id}_0"
