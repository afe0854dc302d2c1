"""How long a 1,000-item payout batch takes to be accepted, in one process.

    .venv/bin/python bench/payout_batch.py [--rounds 5] [--items 1000]

Runs on a throwaway database (`gateway_bench`, created on the embedded PostgreSQL or next to
DATABASE_URL's, migrated, dropped at the end). Interleaves two cases on one funded tenant:
  batch    POST /api/v1/payout-batches with --items payouts (with an Idempotency-Key)
  singles  the same number of payouts as POST /api/v1/payments, one request each: the cost
           of the same work through the single-payout path, for comparison
Prints median and p99 in milliseconds per case, the ratio to `singles`, and the batch's SQL
statement count. Not a test: nothing is asserted; quote the figures with the machine.
"""

from __future__ import annotations

import argparse
import time

import report  # bench/report.py: the script's own folder is first on sys.path

# The same throwaway database and environment as the Idempotency-Key benchmark.
from idempotency import _point_at_bench_database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--items", type=int, default=1000)
    options = parser.parse_args()
    admin = _point_at_bench_database()

    import django

    django.setup()
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from audit.services import SYSTEM
    from payments import services as payments
    from tenants import services

    call_command("migrate", verbosity=0)
    created = services.create_tenant(name="bench", actor=SYSTEM)
    payments.top_up_test_balance(
        tenant=created.tenant,
        mode="test",
        amount=Decimal("1000000.00"),
        currency="ZMW",
        actor=SYSTEM,
    )
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {created.keys[0].secret}")
    timings: dict[str, list[float]] = {"singles": [], "batch": []}
    statements: list[int] = []

    def items(prefix: str) -> list[dict[str, str]]:
        return [
            {"external_id": f"{prefix}-{n}", "amount": "1.00", "msisdn": f"09612{n:05d}"}
            for n in range(options.items)
        ]

    for round_ in range(options.rounds + 1):  # round 0 warms connections, caches and imports
        started = time.perf_counter()
        for item in items(f"single-{round_}"):
            answer = client.post(
                "/api/v1/payments",
                {**item, "flow": "disbursement"},
                content_type="application/json",
            )
            if answer.status_code != 201:
                raise SystemExit(f"single: {answer.status_code} {answer.content!r}")
        single_ms = (time.perf_counter() - started) * 1000
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            answer = client.post(
                "/api/v1/payout-batches",
                {"items": items(f"batch-{round_}")},
                content_type="application/json",
                headers={"Idempotency-Key": f"batch-{round_}"},
            )
            batch_ms = (time.perf_counter() - started) * 1000
        if answer.status_code != 201:
            raise SystemExit(f"batch: {answer.status_code} {answer.content[:500]!r}")
        if round_:
            timings["singles"].append(single_ms)
            timings["batch"].append(batch_ms)
            statements.append(len(captured.captured_queries))

    connections.close_all()
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection_:
        connection_.execute('DROP DATABASE IF EXISTS "gateway_bench" WITH (FORCE)')

    print(f"{options.items} payouts per case, {options.rounds} rounds")
    report.print_table(timings, baseline="singles")
    print(f"batch SQL statements: {sorted(set(statements))}")


if __name__ == "__main__":
    main()
