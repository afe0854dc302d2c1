"""Where the time of one request goes: cProfile over N requests through the whole stack.

    .venv/bin/python bench/profile_requests.py [--case create|replay|retrieve|list]
        [--requests 1000] [--top 30] [--sort tottime|cumulative]

In one process, on a throwaway database (`gateway_bench`, dropped at the end), with the
settings the HTTP benchmark uses (JSON logs at INFO, here to /dev/null). Prints the SQL
statements of one request, the wall time and the CPU time per request (this process's, and
the embedded PostgreSQL's: the stable figures on a shared machine), and the functions that took
it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from pathlib import Path
from typing import Any

import throughput  # bench/throughput.py: the script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parents[1]


def _wal_position(connection: Any) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        return str(cursor.fetchone()[0])


def _wal_bytes_since(connection: Any, position: str) -> int:
    """WAL written by the whole server since `position`: what one request's rows and index
    entries cost PostgreSQL, a figure that, unlike CPU time, a busy machine does not blur."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [position])
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--case", default="create", choices=["create", "replay", "retrieve", "list"]
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    admin, database_url = throughput.bench_database()
    for name in ("RATE_LIMIT", "RATE_LIMIT_READ", "RATE_LIMIT_WRITE"):
        os.environ[name] = throughput.HUGE_RATE
    os.environ["LOG_FORMAT"] = "json"
    try:
        throughput.setup_django(database_url)
        import logging

        from django.core.management import call_command
        from django.db import connection, connections
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        call_command("migrate", verbosity=0)
        logging.getLogger().setLevel(logging.INFO)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115  # for the whole run
        secret = throughput.make_tenants(1, "profile")[0]
        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
        counter = iter(range(10**9))
        created = client.post(
            "/api/v1/payments",
            _body("replay-0"),
            content_type="application/json",
            headers={"Idempotency-Key": "replay-0"},
        )
        assert created.status_code == 201, created.content
        public_id = created.json()["id"]

        def one() -> int:
            if args.case == "create":
                index = next(counter)
                response = client.post(
                    "/api/v1/payments",
                    _body(f"p-{index}"),
                    content_type="application/json",
                    headers={"Idempotency-Key": f"p-{index}"},
                )
            elif args.case == "replay":
                response = client.post(
                    "/api/v1/payments",
                    _body("replay-0"),
                    content_type="application/json",
                    headers={"Idempotency-Key": "replay-0"},
                )
            elif args.case == "retrieve":
                response = client.get(f"/api/v1/payments/{public_id}")
            else:
                response = client.get("/api/v1/payments")
            return response.status_code

        for _ in range(50):
            one()
        connection.force_debug_cursor = True
        with CaptureQueriesContext(connection) as queries:
            status = one()
        connection.force_debug_cursor = False
        print(f"{args.case}: {status}, {len(queries.captured_queries)} SQL statements:")
        for query in queries.captured_queries:
            print("   ", query["sql"][:150].replace("\n", " "))
        postmaster = throughput._postmaster_pid()
        database_cpu = throughput._tree_cpu(postmaster) if postmaster else 0.0
        wal_before = _wal_position(connection)
        cpu, started = time.process_time(), time.perf_counter()
        for _ in range(args.requests):
            one()
        elapsed = time.perf_counter() - started
        wal_bytes = _wal_bytes_since(connection, wal_before) / args.requests
        cpu = (time.process_time() - cpu) / args.requests * 1000
        database_cpu = (
            (throughput._tree_cpu(postmaster) - database_cpu) / args.requests * 1000
            if postmaster
            else float("nan")
        )
        each = elapsed / args.requests * 1000
        print(
            f"\n{args.requests} requests, {each:.2f} ms each (not profiled);"
            f" CPU per request: {cpu:.2f} ms here (test client included),"
            f" {database_cpu:.2f} ms PostgreSQL; {wal_bytes:,.0f} bytes of WAL"
        )
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(args.requests):
            one()
        profiler.disable()
        elapsed = time.perf_counter() - started
        print(
            f"\n{args.requests} requests, {elapsed / args.requests * 1000:.2f} ms each (profiled)"
        )
        stats = pstats.Stats(profiler)
        print("\nShare of the profiled time, by layer (cumulative, so layers nest):")
        for label, share in _layers(stats).items():
            print(f"  {share:6.1%}  {label}")
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]  # pstats writes to its stream
        stats.sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
        connections.close_all()
    finally:
        throughput.drop_database(admin)


# (label, file suffix, function): the layers a request goes through, outermost first.
_LAYERS = [
    ("whole request (test client included)", "profile_requests.py", "one"),
    ("Django handler and middleware", "django/core/handlers/base.py", "get_response"),
    ("rate limit: API key lookup", "tenants/selectors.py", "get_api_key_for_secret"),
    ("rate limit: counter", "gateway/ratelimit.py", "hit"),
    ("idempotency middleware", "payments/middleware.py", "__call__"),
    ("idempotency: fingerprint", "payments/idempotency.py", "fingerprint"),
    ("idempotency: replay look-up", "payments/idempotency.py", "replay"),
    ("idempotency: claim", "payments/idempotency.py", "claim"),
    ("idempotency: store the answer", "payments/idempotency.py", "complete"),
    ("the view (DRF dispatch)", "rest_framework/views.py", "dispatch"),
    ("input serializer", "rest_framework/serializers.py", "is_valid"),
    ("create_payment", "payments/services.py", "create_payment"),
    ("  full_clean", "django/db/models/base.py", "full_clean"),
    ("  payment, fee, audit row and job: one statement", "payments/services.py", "_insert_created"),
    ("get_payment", "payments/selectors.py", "get_payment"),
    ("list_payments page", "rest_framework/pagination.py", "paginate_queryset"),
    ("output serializer", "rest_framework/serializers.py", "data"),
    ("COMMIT", "django/db/backends/base/base.py", "commit"),
    ("all SQL through the cursor", "django/db/backends/utils.py", "_execute"),
    ("  of which waiting for PostgreSQL", "psycopg/connection.py", "wait"),
    ("ORM query compilation", "django/db/models/sql/compiler.py", "as_sql"),
    ("logging", "logging/__init__.py", "handle"),
]


def _layers(stats: pstats.Stats) -> dict[str, float]:
    entries = stats.stats  # type: ignore[attr-defined]  # {(file, line, function): (...)}
    total = max(cumulative for (_, _, _, cumulative, _) in entries.values())
    shares: dict[str, float] = {}
    for label, suffix, function in _LAYERS:
        found = [
            cumulative
            for (path, _, name), (_, _, _, cumulative, _) in entries.items()
            if path.endswith(suffix) and name == function
        ]
        if found:
            shares[label] = max(found) / total
    return shares


def _body(external_id: str) -> dict[str, str]:
    return {
        "amount": "15.00",
        "currency": "ZMW",
        "msisdn": "260961234567",
        "external_id": external_id,
    }


if __name__ == "__main__":
    main()
