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

import hmac
import ipaddress
import os
import shutil
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.exposition import ThreadingWSGIServer
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


def access_allowed(*, peer: str, authorization: str, forwarded_for: str) -> bool:
    """Who may read a /metrics, the web's or a job worker's: any client with
    METRICS_BEARER_TOKEN, else one whose address and every X-Forwarded-For hop are in
    METRICS_ALLOWED_NETWORKS (a proxy's header can only narrow who gets in)."""
    token: str = settings.METRICS_BEARER_TOKEN
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    hops = [peer, *(hop.strip() for hop in forwarded_for.split(",") if hop.strip())]
    return all(_in_metrics_networks(hop) for hop in hops)


def _in_metrics_networks(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_NETWORKS)


FORBIDDEN = b"metrics are served to the monitoring network only\n"


def worker_metrics_app(registry: CollectorRegistry) -> Any:
    """prometheus_client's WSGI app behind the same access rule as the web /metrics."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not access_allowed(
            peer=environ.get("REMOTE_ADDR", ""),
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            forwarded_for=environ.get("HTTP_X_FORWARDED_FOR", ""),
        ):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [FORBIDDEN]
        return metrics_app(environ, start_response)  # type: ignore[no-any-return]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would drown the worker's own log."""


def serve_worker_metrics(port: int, address: str) -> WSGIServer:
    """A job worker's own /metrics (its counters only), on a thread of its own; port 0
    takes a free one (the returned server's `server_port`)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server_class = type("WorkerMetricsServer", (ThreadingWSGIServer,), {"address_family": family})
    server: WSGIServer = make_server(
        address, port, worker_metrics_app(process_registry()), server_class, _QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server
