"""`manage.py run_worker`: the job worker, made to outlive database restarts.

Procrastinate's own `procrastinate worker` stops for good when PostgreSQL goes away (a side
task such as its LISTEN or heartbeat fails, and it exits 0). This command runs the same worker
in a loop: when it stops for any reason but SIGTERM/SIGINT, it starts again after a pause
(1 s, doubling up to 30 s). A supervisor (make run's supervisord, Docker's restart policy,
Kubernetes) still restarts the process if it is killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connections
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector

from gateway import metrics

logger = logging.getLogger("gateway.worker")

RESTART_MIN_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
# A worker that ran this long before stopping was healthy: its next restart starts quickly.
HEALTHY_RUN_SECONDS = 60.0


class Command(BaseCommand):
    help = "Run a job worker that restarts itself after database outages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queues", default="", help="Comma-separated queues to serve (default: all)."
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.WORKER_CONCURRENCY,
            help="Jobs run at once (default: WORKER_CONCURRENCY).",
        )
        parser.add_argument("--name", default="worker", help="Shown in logs and job contexts.")
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=settings.WORKER_METRICS_PORT,
            help="Serve this worker's /metrics on this port (default: WORKER_METRICS_PORT; "
            "0: none).",
        )

    def handle(
        self,
        *args: Any,
        queues: str,
        concurrency: int,
        name: str,
        metrics_port: int,
        **options: Any,
    ) -> None:
        if metrics_port:
            metrics.serve_worker_metrics(metrics_port, settings.WORKER_METRICS_ADDRESS)
        asyncio.run(
            run_forever(
                queues=[queue for queue in queues.split(",") if queue] or None,
                concurrency=concurrency,
                name=name,
            )
        )


async def run_forever(*, queues: list[str] | None, concurrency: int, name: str) -> None:
    loop = asyncio.get_running_loop()
    # Procrastinate runs sync tasks on the loop's default executor (asgiref, not thread
    # sensitive), which holds min(32, cpus + 4) threads: 6 here, silently capping concurrency.
    loop.set_default_executor(ThreadPoolExecutor(concurrency, thread_name_prefix=name))
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    delay = RESTART_MIN_SECONDS
    while not stop.is_set():
        started = loop.time()
        try:
            await sync_to_async(_forget_connections, thread_sensitive=True)()
            await _run_until_stopped(queues=queues, concurrency=concurrency, name=name, stop=stop)
        except Exception:  # the outermost boundary: whatever stopped it, log and start again
            logger.exception("worker failed", extra={"worker": name})
        if stop.is_set():
            break
        if loop.time() - started > HEALTHY_RUN_SECONDS:
            delay = RESTART_MIN_SECONDS
        logger.warning("worker stopped; restarting", extra={"worker": name, "in_seconds": delay})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, RESTART_MAX_SECONDS)
    logger.info("worker shut down", extra={"worker": name})


def _forget_connections() -> None:
    """Drop the Django connection of asgiref's thread-sensitive thread, where Procrastinate's
    periodic deferrer runs: after a database restart it is broken, and nothing else would
    ever replace it (job threads get theirs checked before every job)."""
    with contextlib.suppress(DatabaseError):
        connections.close_all()


async def _run_until_stopped(
    *, queues: list[str] | None, concurrency: int, name: str, stop: asyncio.Event
) -> None:
    connector = app.connector
    assert isinstance(connector, DjangoConnector)  # noqa: S101  # procrastinate.contrib.django
    # A second App on its own (pooled, LISTEN-capable) connection. Not `replace_connector`,
    # which swaps the global app's connector: jobs deferred by job code must keep going through
    # Django's connection, inside the transaction of the change they belong to (the outbox).
    worker_app = app.with_connector(connector.get_worker_connector())
    async with worker_app.open_async():
        logger.info(
            "worker started",
            extra={"worker": name, "queues": queues or "all", "concurrency": concurrency},
        )
        options: dict[str, Any] = {"queues": queues} if queues else {}  # none: every queue
        worker = asyncio.create_task(
            worker_app.run_worker_async(
                concurrency=concurrency, name=name, install_signal_handlers=False, **options
            )
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not worker.done():
            worker.cancel()  # graceful: running jobs get WORKER_SHUTDOWN_GRACE_SECONDS
        with contextlib.suppress(asyncio.CancelledError):
            await worker
