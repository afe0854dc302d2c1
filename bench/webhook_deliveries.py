"""Webhook deliveries per second to a fast local receiver, through a real worker process.

    .venv/bin/python bench/webhook_deliveries.py [--deliveries 2000] [--rounds 3] [--endpoints 8]
                                       [--concurrency 16]

Runs on a throwaway database (`gateway_bench_webhooks`, created on the embedded PostgreSQL
or next to DATABASE_URL's, migrated, dropped at the end). A receiver (threaded, answers 200
at once) listens on 127.0.0.1; `manage.py run_worker --queues webhooks` runs with
`--concurrency` threads, as in production (WEBHOOK_ALLOW_INSECURE on, for the loopback
receiver only). Each round queues `--deliveries` deliveries at once (events spread over
`--endpoints` endpoints, each job deferred as fan-out does) and times until every one is
`succeeded`; the baseline, interleaved with the rounds, is the same number of signed POSTs
made straight to the receiver with the same number of threads and the same client (no
database, no jobs). Prints deliveries per second for both and their ratio, and the median and
p99 of each delivery's latency (queued to succeeded). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import report  # bench/report.py: the script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["WEBHOOK_ALLOW_INSECURE"] = "true"
BENCH_DB = "gateway_bench_webhooks"


class _Fast(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with _Fast.lock:
            _Fast.count += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def _point_at_bench_database() -> str:
    return report.point_at_bench_database(BENCH_DB, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args()
    admin = _point_at_bench_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections, transaction
    from django.utils import timezone

    from audit.services import SYSTEM
    from tenants import services as tenants
    from tenants.models import Mode
    from webhooks.outbound import client, services, signing
    from webhooks.outbound.models import Delivery, DeliveryState, Event, EventType

    call_command("migrate", verbosity=0)
    server = _Server(("127.0.0.1", 0), _Fast)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    tenant = tenants.create_tenant(name="bench", actor=SYSTEM).tenant
    endpoints = [
        services.create_webhook_endpoint(
            tenant=tenant,
            mode=Mode.TEST,
            url=f"http://127.0.0.1:{port}/hook/{index}",
            actor=SYSTEM,
        ).endpoint
        for index in range(options.endpoints)
    ]
    data = {"id": "pay_" + "x" * 24, "object": "payment", "status": "SUCCESSFUL"}

    def queue_round() -> float:
        """Events and their deliveries, with jobs, committed at once; when they were queued."""
        with transaction.atomic():
            events = [
                services._new_event(
                    tenant_id=tenant.pk,
                    mode=Mode.TEST,
                    event_type=EventType.PAYMENT_SUCCEEDED,
                    data=data,
                    fanned_out=True,
                )
                for _ in range(options.deliveries)
            ]
            now = timezone.now()
            deliveries = Delivery.objects.bulk_create(
                Delivery(
                    event=event,
                    endpoint=endpoints[index % len(endpoints)],
                    tenant=tenant,
                    mode=Mode.TEST,
                    next_attempt_at=now,
                )
                for index, event in enumerate(events)
            )
            for delivery in deliveries:
                services._defer_delivery(delivery)
        return time.monotonic()

    def worker_round() -> tuple[float, list[float]]:
        queued = queue_round()
        pending = Delivery.objects.exclude(state=DeliveryState.SUCCEEDED)
        while pending.exists():
            time.sleep(0.05)
        took = time.monotonic() - queued
        latencies = [
            (succeeded - created).total_seconds() * 1000
            for created, succeeded in Delivery.objects.values_list("created_at", "succeeded_at")
            if succeeded is not None
        ]
        Delivery.objects.all().delete()  # each round starts empty (events stay)
        return options.deliveries / took, latencies

    def baseline_round() -> float:
        sample = Event.objects.first()
        body = sample.body.encode() if sample else b"{}"
        secret = endpoints[0].secret

        def one(index: int) -> None:
            headers = signing.headers(
                secrets=[secret], msg_id=f"evt_{index}", timestamp=int(time.time()), body=body
            )
            answer = client.post(
                url=endpoints[index % len(endpoints)].url,
                body=body,
                headers=headers,
                connect_timeout=3,
                read_timeout=15,
            )
            if not answer.succeeded:
                raise SystemExit(f"baseline: {answer.error}")

        started = time.monotonic()
        with ThreadPoolExecutor(options.concurrency) as pool:
            list(pool.map(one, range(options.deliveries)))
        return float(options.deliveries) / (time.monotonic() - started)

    connections.close_all()
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_worker",
            "--queues",
            "webhooks",
            "--concurrency",
            str(options.concurrency),
            "--name",
            "bench",
        ],
        cwd=ROOT,
        env={**os.environ},
    )
    try:
        from procrastinate.contrib.django.models import ProcrastinateWorker

        deadline = time.monotonic() + 60
        while not ProcrastinateWorker.objects.exists():
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit("the worker did not start")
            time.sleep(0.2)
        options_deliveries = options.deliveries
        options.deliveries = 200
        worker_round()  # warm-up: imports, connections, the receiver's threads
        options.deliveries = options_deliveries
        rates: dict[str, list[float]] = {"direct": [], "worker": []}
        latencies: list[float] = []
        for _ in range(options.rounds):
            rates["direct"].append(baseline_round())
            rate, round_latencies = worker_round()
            rates["worker"].append(rate)
            latencies += round_latencies
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        server.shutdown()
        connections.close_all()
        import psycopg

        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')

    direct, through = statistics.median(rates["direct"]), statistics.median(rates["worker"])
    print(
        f"{options.deliveries} deliveries x {options.rounds} rounds, {options.endpoints} "
        f"endpoints, worker concurrency {options.concurrency}, {os.cpu_count()} cores"
    )
    print(f"{'case':<10} {'per second (median)':>20} {'rounds':>30}")
    for name, values in rates.items():
        shown = ", ".join(f"{value:.0f}" for value in values)
        print(f"{name:<10} {statistics.median(values):>20.0f} {shown:>30}")
    print(f"worker / direct: {through / direct:.2f}")
    print("latency, queued to succeeded:")
    report.print_table({"worker": latencies}, baseline="worker")
    print(f"receiver got {_Fast.count} requests")


if __name__ == "__main__":
    main()
