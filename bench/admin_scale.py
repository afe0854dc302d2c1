"""The back-office with 1,000,000 payments: the payments list, a filtered list, searches by
MSISDN and by operator transaction id, and the home page, each timed with its queries.

    .venv/bin/python bench/admin_scale.py [--payments 1000000] [--rounds 5] [--keep]

Makes a throwaway database (`gateway_admin_scale`, on the embedded PostgreSQL or next to
DATABASE_URL's), migrates it, seeds the payments in one INSERT … SELECT generate_series
(ten tenants, three operators, 90 days, 78 % successful, 20 % failed, 2 % pending of which
half are past their expiry: stuck), ANALYZEs, then asks each page `--rounds` times as a superuser
and as a staff user limited to one tenant, through Django's test client (the whole admin
stack, no HTTP server). Prints per page the median and worst time, the number of queries and
the slowest query with its plan. Drops the database at the end unless --keep. Not a test:
nothing is asserted; quote the figures, with the machine's load, in the issue note.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import report  # bench/report.py: the script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
BENCH_DB = "gateway_admin_scale"
TENANTS = 10

# One row per g: the columns every payment needs (the model has no database defaults).
SEED = """
INSERT INTO payments_payment (
    public_id, tenant_id, mode, flow, provider, amount, fee, currency, msisdn, external_id,
    description, metadata, status, failure_code, failure_message, provider_reference,
    provider_transaction_id, refund_of_id, callback_token, submitted_at, submit_attempts,
    send_started_at, next_poll_at, poll_count, busy_until, lease_holder, expires_at,
    review_flagged_at, review_reason, routing, queued_at, cap_day, created_at, updated_at,
    completed_at)
SELECT
    'pay_' || lpad(g::text, 24, '0'),
    tenants.ids[1 + g %% %(tenants)s],
    CASE WHEN g %% 7 = 0 THEN 'test' ELSE 'live' END,
    CASE WHEN g %% 10 = 0 THEN 'disbursement' ELSE 'collection' END,
    (ARRAY['mtn', 'airtel', 'zamtel'])[1 + g %% 3],
    (10 + g %% 990)::numeric(14, 2), 0, 'ZMW',
    '260' || (ARRAY['96', '97', '95'])[1 + g %% 3] || lpad((g %% 10000000)::text, 7, '0'),
    'order-' || g, 'Order', '{}'::jsonb,
    CASE WHEN g %% 100 < 2 THEN 'PENDING' WHEN g %% 100 < 80 THEN 'SUCCESSFUL' ELSE 'FAILED' END,
    CASE WHEN g %% 100 >= 80 THEN 'insufficient_funds' ELSE '' END,
    '', md5(g::text)::uuid,
    CASE WHEN g %% 100 BETWEEN 2 AND 79 THEN (3000000000 + g)::text ELSE '' END,
    NULL, md5('callback' || g::text), created, 1, NULL, NULL, 0, NULL, '',
    CASE WHEN g %% 100 = 1 THEN now() + interval '1 hour' ELSE created + interval '10 minutes' END,
    NULL, '', '{}'::jsonb, NULL, NULL, created, created,
    CASE WHEN g %% 100 < 2 THEN NULL ELSE created + interval '20 seconds' END
FROM generate_series(1, %(payments)s) AS g,
     LATERAL (SELECT now() - (g * interval '90 days' / %(payments)s) AS created) AS at,
     (SELECT array_agg(id ORDER BY slug) AS ids FROM tenants_tenant) AS tenants
"""


def _point_at_bench_database() -> str:
    return report.point_at_bench_database(BENCH_DB, ROOT)


def _reuse_bench_database() -> str:
    from gateway import embedded_db

    base = os.environ.get("DATABASE_URL") or embedded_db.database_url(ROOT / "var")
    path, _, query = base.partition("?")
    suffix = f"?{query}" if query else ""
    os.environ["DATABASE_URL"] = path.rsplit("/", 1)[0] + f"/{BENCH_DB}" + suffix
    return path.rsplit("/", 1)[0] + "/postgres" + suffix


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the database a --keep run left (migrated to the code's indexes first)",
    )
    options = parser.parse_args()
    admin = _reuse_bench_database() if options.reuse else _point_at_bench_database()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from tenants.models import StaffMembership, Tenant

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # the gateway's own limit is for requests
        call_command("migrate", verbosity=0)
        if not options.reuse:
            Tenant.objects.bulk_create(
                Tenant(name=f"Merchant {n}", slug=f"merchant-{n:02d}") for n in range(TENANTS)
            )
            started = time.perf_counter()
            cursor.execute(SEED, {"payments": options.payments, "tenants": TENANTS})
            seconds = time.perf_counter() - started
            print(f"seeded {options.payments:,} payments in {seconds:.1f} s")
        # What autovacuum does on a live table: statistics, and the visibility map that lets
        # the aggregates read the index alone.
        cursor.execute("VACUUM ANALYZE payments_payment")
        cursor.execute("RESET statement_timeout")
    get_user_model().objects.filter(username__in=["bench", "limited"]).delete()

    users = get_user_model()
    superuser = users.objects.create_superuser("bench", "bench@example.zm", "a-long-password")
    limited = users.objects.create_user("limited", password="a-long-password", is_staff=True)  # noqa: S106  # a throwaway database
    limited.user_permissions.add(*_view_permissions())
    StaffMembership.objects.create(user=limited, tenant=Tenant.objects.order_by("slug")[0])
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT msisdn, provider_transaction_id FROM payments_payment"
            " WHERE provider_transaction_id <> '' ORDER BY id DESC LIMIT 1 OFFSET 5000"
        )
        msisdn, transaction_id = cursor.fetchone()
    pages = {
        "list": ("/admin/payments/payment/", {}),
        "filtered (FAILED, 10 days)": (
            "/admin/payments/payment/",
            {
                "status__exact": "FAILED",
                "created_from": (now - timedelta(days=40)).date().isoformat(),
                "created_to": (now - timedelta(days=30)).date().isoformat(),
            },
        ),
        "search MSISDN": ("/admin/payments/payment/", {"q": f"+260 {msisdn[3:5]} {msisdn[5:]}"}),
        "search operator id": ("/admin/payments/payment/", {"q": transaction_id}),
        "home page": ("/admin/", {}),
    }
    header = f"{'page':<28} {'user':<8} {'median ms':>10} {'worst ms':>9} {'queries':>8}"
    print(f"\n{header}  slowest query")
    for user in (superuser, limited):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        for name, (url, params) in pages.items():
            client.get(url, params)  # warm: templates, connections, the planner's statistics
            timings, captured = [], None
            for _ in range(options.rounds):
                with CaptureQueriesContext(connection) as queries:
                    began = time.perf_counter()
                    answer = client.get(url, params)
                    timings.append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200:
                    raise SystemExit(f"{name}: {answer.status_code}")
                captured = queries.captured_queries
            assert captured is not None
            slowest = max(captured, key=lambda query: float(query["time"]))
            print(
                f"{name:<28} {user.username:<8} {statistics.median(timings):>10.1f}"
                f" {max(timings):>9.1f} {len(captured):>8}  {float(slowest['time']) * 1000:.1f} ms:"
                f" {slowest['sql'][:90]}"
            )
            if os.environ.get("BENCH_EXPLAIN"):
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN " + slowest["sql"])
                    print("    " + "\n    ".join(row[0] for row in cursor.fetchall()))

    connections.close_all()
    if not options.keep:
        import psycopg

        with psycopg.connect(admin, autocommit=True) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def _view_permissions() -> list[Any]:
    from django.contrib.auth.models import Permission

    return list(Permission.objects.filter(codename__in=["view_payment", "view_tenant"]))


if __name__ == "__main__":
    main()
