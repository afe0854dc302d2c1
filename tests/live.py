"""Helpers for tests that start real processes against the test database, on loopback only."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import quote

from django.db import connection


def database_url() -> str:
    """A DATABASE_URL for the test database, for child processes (TCP or Unix socket)."""
    params = connection.settings_dict
    user, password = quote(params["USER"] or "", safe=""), quote(params["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if user else ""
    host, port = params["HOST"] or "", str(params["PORT"] or "")
    if host.startswith("/"):  # a socket directory goes in the query, as libpq reads it
        query = f"?host={host}" + (f"&port={port}" if port else "")
        return f"postgresql://{auth}/{params['NAME']}{query}"
    return f"postgresql://{auth}{host}{':' + port if port else ''}/{params['NAME']}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_worker(*, queues: list[str] | None = None, concurrency: int = 1) -> None:
    """Run every due job with a real Procrastinate worker (the connector `manage.py
    procrastinate worker` uses, with the app's own task middleware), then return."""
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import connections
    from procrastinate.contrib.django import app
    from procrastinate.contrib.django.django_connector import DjangoConnector

    connector = app.connector
    assert isinstance(connector, DjangoConnector)
    worker_app = app.with_connector(connector.get_worker_connector())
    worker_app.run_worker(
        queues=queues,
        wait=False,
        install_signal_handlers=False,
        listen_notify=False,
        concurrency=concurrency,
        task_middleware=[
            *worker_app.worker_defaults.get("task_middleware", []),
            _close_connections_after,
        ],
    )
    # The periodic deferrer used Django's connection in asgiref's thread-sensitive executor.
    asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())


def _close_connections_after(call_next: Any, context: Any, worker: Any) -> Any:
    # Job threads hold their own Django connections: close them, so the test database can be
    # dropped at the end of the run.
    from django.db import connections

    try:
        return call_next()
    finally:
        connections.close_all()
