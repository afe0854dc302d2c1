"""Helpers for tests that start real processes against the test database, on loopback only."""

from __future__ import annotations

import socket

from django.db import connection


def database_url() -> str:
    """A DATABASE_URL for the test database, for child processes."""
    params = connection.settings_dict
    return f"postgresql://{params['USER']}:@/{params['NAME']}?host={params['HOST']}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
