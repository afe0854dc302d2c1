"""What an authenticated, rate-limited API request costs over a bare one, in one process.

    .venv/bin/python bench/request_overhead.py [--requests 2000]

Runs three endpoints through the whole Django stack (middleware, DRF, database) against
PostgreSQL, interleaved so that machine drift hits them alike:
  bare       GET /health: middleware and DRF, no authentication, no database
  auth_read  GET /api/v1/api-keys: API-key lookup (hash + constant-time compare), the
             per-tenant rate-limit counter (one statement), one tenant-scoped query
  auth_only  same, without the rate-limit middleware: isolates the counter's share
Prints median and p99 in milliseconds and ratios to `bare`. Everything runs inside one
transaction that is rolled back, so the database is left as it was. Not a test: nothing is
asserted; quote the figures, with the machine, in the issue note.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import report  # bench/report.py: the script's own folder is first on sys.path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from audit.services import SYSTEM  # noqa: E402
from tenants import services  # noqa: E402


class _Rollback(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    count = parser.parse_args().requests
    timings: dict[str, list[float]] = {"bare": [], "auth_read": [], "auth_only": []}
    try:
        with transaction.atomic(), override_settings(RATE_LIMIT_READ="1000000/h"):
            secret = services.create_tenant(name="bench", actor=SYSTEM).keys[0].secret
            client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
            unlimited = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
            # A client's handler builds its middleware chain at its first request, and keeps it.
            without_limit = [
                m for m in settings.MIDDLEWARE if not m.endswith("RateLimitMiddleware")
            ]
            with override_settings(MIDDLEWARE=without_limit):
                unlimited.get("/api/v1/api-keys")
            cases: dict[str, Callable[[], Any]] = {
                "bare": lambda: client.get("/health"),
                "auth_read": lambda: client.get("/api/v1/api-keys"),
            }
            for _ in range(50):  # warm caches, connections, imports
                for call in cases.values():
                    call()
            for _ in range(count):
                for name, call in cases.items():
                    started = time.perf_counter()
                    response = call()
                    timings[name].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.content
                started = time.perf_counter()
                unlimited.get("/api/v1/api-keys")
                timings["auth_only"].append((time.perf_counter() - started) * 1000)
            raise _Rollback
    except _Rollback:
        pass
    report.print_table(timings, baseline="bare")


if __name__ == "__main__":
    main()
