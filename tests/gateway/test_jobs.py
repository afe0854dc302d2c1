"""Procrastinate is wired into Django: jobs commit with the transaction that defers them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.contrib.django.models import ProcrastinateJob

from gateway import jobs

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


def _close_connections_after(call_next, context, worker):
    # Job threads keep persistent Django connections (CONN_MAX_AGE); a test must close them,
    # or the test database cannot be dropped at the end of the run.
    try:
        return call_next()
    finally:
        connections.close_all()


def _run_worker() -> None:
    # The same connector `manage.py procrastinate worker` uses (its own psycopg pool).
    connector = app.connector
    assert isinstance(connector, DjangoConnector)
    worker_app = app.with_connector(connector.get_worker_connector())
    worker_app.run_worker(
        queues=["maintenance"],
        wait=False,
        install_signal_handlers=False,
        listen_notify=False,
        task_middleware=[
            *worker_app.worker_defaults.get("task_middleware", []),
            _close_connections_after,
        ],
    )
    # The periodic deferrer used Django's connection in asgiref's thread-sensitive executor.
    asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())


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
