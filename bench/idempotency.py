"""What the Idempotency-Key middleware costs, and what a replay costs, in one process.

    .venv/bin/python bench/idempotency.py [--requests 500]

Runs on a throwaway database (`gateway_bench`, created on the embedded PostgreSQL or next to
DATABASE_URL's, migrated, dropped at the end), interleaving three cases so that machine drift
hits them alike:
  bare    POST /api/v1/payments without Idempotency-Key: the same view, service and writes
          (payment, audit row, submission job) with the middleware out of the way
  first   the same with a fresh Idempotency-Key: claim, run, store the response
  replay  the same key again: the stored response, byte for byte
Prints median and p99 in milliseconds and the ratios to `bare`. Not a test: nothing is
asserted; quote the figures, with the machine, in the issue note.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import report  # bench/report.py: the script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("RATE_LIMIT_WRITE", "1000000/h")
BENCH_DB = "gateway_bench"


def _point_at_bench_database() -> str:
    return report.point_at_bench_database(BENCH_DB, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    count = parser.parse_args().requests
    admin = _point_at_bench_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client

    from audit.services import SYSTEM
    from tenants import services

    call_command("migrate", verbosity=0)
    secret = services.create_tenant(name="bench", actor=SYSTEM).keys[0].secret
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
    timings: dict[str, list[float]] = {"bare": [], "first": [], "replay": []}

    def timed(name: str, external_id: str, key: str | None) -> None:
        headers = {"Idempotency-Key": key} if key else {}
        body = {"amount": "150.00", "msisdn": "0961234567", "external_id": external_id}
        started = time.perf_counter()
        response = client.post(
            "/api/v1/payments", body, content_type="application/json", headers=headers
        )
        timings[name].append((time.perf_counter() - started) * 1000)
        if response.status_code != 201:
            raise SystemExit(f"{name}: unexpected {response.status_code} {response.content!r}")

    for index in range(count + 20):
        timed("bare", f"bare-{index}", None)
        timed("first", f"first-{index}", f"key-{index}")
        timed("replay", f"first-{index}", f"key-{index}")
        if index == 19:  # the first 20 rounds warm connections, caches and imports
            timings = {name: [] for name in timings}

    connections.close_all()
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')

    report.print_table(timings, baseline="bare")


if __name__ == "__main__":
    main()
