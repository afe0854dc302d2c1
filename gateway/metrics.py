"""/metrics for Prometheus: what this process group counted, and gauges read from PostgreSQL.

Two kinds of metric, served differently:

- Counters and histograms (requests, payments created and finalized, operator calls,
  callbacks) are counted in memory by the process that sees the event. With
  `PROMETHEUS_MULTIPROC_DIR` set (prometheus_client's multiprocess mode), every process writes
  them to files in that directory and a scrape sums the files, so two gunicorn workers, or
  web and job workers on one host, report one total. Processes share a directory only on one
  host or container (the files are named by process id). `make run` uses one directory,
  var/prometheus/, for everything, so the web /metrics reports the job workers too; in
  containers each one has its own, and a job worker serves it on `WORKER_METRICS_PORT`.
  A dead process's files stay (its counts are part of the totals), so every gunicorn worker
  recycled by max_requests adds a few small files that each scrape reads until the next start.
- Gauges of the whole system (pending and overdue payments, job queues, breakers, webhook
  backlog) are read from PostgreSQL at scrape time, the same whichever process answers: the
  web /metrics serves them, a job worker's port does not (one source, no duplicate series).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def prepare_directory(*, clean: bool) -> None:
    """Create the multiprocess directory; `clean` empties it first. Only the process that
    serves a directory alone cleans it, at its start, before any process writes to it."""
    directory = multiprocess_dir()
    if not directory:
        return
    if clean:
        shutil.rmtree(directory, ignore_errors=True)
    Path(directory).mkdir(parents=True, exist_ok=True)


def process_registry() -> CollectorRegistry:
    """What this process group counted: the files of every process in multiprocess mode,
    else this process's own registry."""
    if not multiprocess_dir():
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def system_collectors() -> list[Collector]:
    from payments.metrics import PaymentsCollector
    from webhooks.outbound.metrics import WebhooksCollector

    return [PaymentsCollector(), WebhooksCollector()]


class _Page(Collector):
    def __init__(self, *sources: Any) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Any]:
        for source in self.sources:
            yield from source.collect()


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The web /metrics: this process group's counters and the system's gauges."""
    page = _Page(process_registry(), *system_collectors())
    return HttpResponse(generate_latest(page), content_type=CONTENT_TYPE_LATEST)


def serve_worker_metrics(port: int, address: str) -> None:
    """A job worker's own /metrics (its counters only), on a thread of its own."""
    start_http_server(port, addr=address, registry=process_registry())
