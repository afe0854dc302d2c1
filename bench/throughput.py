"""Throughput of the API over HTTP, side by side with the bare baseline, and settlement end to end.

    make bench                      # or: .venv/bin/python bench/throughput.py [--rounds 2] [...]

One go, on one machine and one PostgreSQL (a throwaway database, `gateway_bench`, next to the
embedded PostgreSQL or DATABASE_URL's, dropped at the end):

1. End to end: PAYMENTS (2,000) collections through API -> operator worker -> the standalone
   MTN simulator process -> its callback -> status check -> SUCCESSFUL, with one and then two
   operator workers (`run_worker --queues operator`, plus one scheduler worker). Reported:
   payments settled per second (first create to last final) and create -> final p50/p99.
2. HTTP, with no job worker running (jobs wait): `wrk -t2 -c16 -d10s` on
   - baseline   the bare Django + DRF endpoint (bench/baseline.py, as handed over)
   - create-1   POST /api/v1/payments, one tenant, a new Idempotency-Key per request
   - create-16  the same spread over sixteen tenants
   - replay     the same key and body again (the stored answer)
   - retrieve   GET /api/v1/payments/{id}
   - list       GET /api/v1/payments (first page, 25)
   in ROUNDS interleaved rounds; the median round is reported, as a ratio to the baseline.
Both servers are gunicorn with the same number of sync workers, worker recycling off. The
gateway runs as in production but for the settings named in the report (rate limits raised
so that nothing is refused, JSON logs at INFO to a file).

Waits (up to --wait-load seconds) for a 1-minute load average below --max-load before it
starts, and prints the load at the start and at the end: numbers from a busy machine are not
comparable. Prints a markdown table and writes it to bench/results/. Not a test: nothing is
asserted, and it never runs in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import report  # bench/report.py: the script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
LUA = BENCH / "lua"
VENV_BIN = Path(sys.executable).parent
BENCH_DB = "gateway_bench"
HUGE_RATE = "100000000/m"
REPLAY_KEYS = 500
EXTERNAL_DATABASE = bool(os.environ.get("DATABASE_URL"))  # else the embedded one, measured


# --- the machine --------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk is a Debian package: installed here if it is missing (idempotent)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get)...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def load() -> float:
    return os.getloadavg()[0]


def wait_for_quiet_machine(max_load: float, wait: float) -> None:
    deadline = time.monotonic() + wait
    while load() >= max_load and time.monotonic() < deadline:
        print(f"load {load():.2f} >= {max_load}: waiting...", flush=True)
        time.sleep(15)
    if load() >= max_load:
        print(f"WARNING: starting with load {load():.2f}; ratios may be off", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- the database -------------------------------------------------------------------------


def bench_database() -> tuple[str, str]:
    """(admin URL, bench URL): a fresh `gateway_bench` on the usual PostgreSQL server."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    from gateway import embedded_db

    base = os.environ.get("DATABASE_URL") or embedded_db.database_url(ROOT / "var")
    path, _, query = base.partition("?")
    suffix = f"?{query}" if query else ""
    admin = path.rsplit("/", 1)[0] + "/postgres" + suffix
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return admin, path.rsplit("/", 1)[0] + f"/{BENCH_DB}" + suffix


def drop_database(admin: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


# --- processes ----------------------------------------------------------------------------


class Processes:
    """Everything this script started, stopped by its own pid at the end."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self, name: str, timeout: float = 30) -> None:
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its living children (gunicorn's workers, a worker's
    threads count with it), plus its children that have ended."""
    import psutil  # type: ignore[import-untyped]  # a runtime dependency here; no stubs pinned

    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
        total: float = root.cpu_times().children_user + root.cpu_times().children_system
    except psutil.NoSuchProcess:
        return 0.0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def _postmaster_pid() -> int | None:
    """The embedded PostgreSQL's server process (None for an outside DATABASE_URL)."""
    if EXTERNAL_DATABASE:
        return None
    pid_file = ROOT / "var" / "pgdata" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError):
        return int(pid_file.read_text().split()[0])
    return None


class CpuMeter:
    """CPU seconds spent by each part of the stack, to say where a request's time goes."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.postmaster = _postmaster_pid()

    def snapshot(self) -> dict[str, float]:
        parts: dict[str, float] = {}
        for name, process in self.processes.running.items():
            part = name.split("-")[0]  # operator-2-1 -> operator
            parts[part] = parts.get(part, 0.0) + _tree_cpu(process.pid)
        if self.postmaster is not None:
            parts["postgres"] = _tree_cpu(self.postmaster)
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has ended
        own = resource.getrusage(resource.RUSAGE_SELF)
        parts["client"] = children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime
        return parts

    @staticmethod
    def per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
        """Milliseconds of CPU per request (or payment), by part."""
        return {
            part: (after[part] - before.get(part, 0.0)) * 1000 / max(count, 1)
            for part in after
            if after[part] - before.get(part, 0.0) > 0
        }


def wait_until_answers(url: str, within: float = 60) -> None:
    import requests

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=1)
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {within} s")


def gunicorn(app: str, port: int, workers: int, *extra: str) -> list[str]:
    return [
        str(VENV_BIN / "gunicorn"),
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--max-requests",
        "0",  # no recycling during a 10 s run (the gateway's default is every 2,000)
        *extra,
    ]


# --- wrk ----------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    rps: float
    p50: float
    p99: float
    requests: int
    errors: int
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per request, by part


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    return float(match[1]) * _UNITS[match[2]]


def wrk(
    name: str,
    url: str,
    script: str,
    env: dict[str, str],
    *,
    threads: int,
    connections: int,
    duration: str,
) -> Run:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency"]
    argv += ["-s", str(LUA / script) if "/" not in script else script, url]
    output = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, check=True
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, flags=re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(errors[1]) if errors else 0
    if socket_errors:
        failed += sum(int(group) for group in socket_errors.groups())
    return Run(
        name=name,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        # wrk leaves the distribution out when nothing finished (a machine far too busy).
        p50=_ms(latency["50"]) if "50" in latency else float("nan"),
        p99=_ms(latency["99"]) if "99" in latency else float("nan"),
        requests=int(re.search(r"(\d+) requests in", output)[1]),  # type: ignore[index]
        errors=failed,
    )


# --- set-up in the bench database ---------------------------------------------------------


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def make_tenants(count: int, name: str) -> list[str]:
    from audit.services import SYSTEM
    from tenants import services

    return [
        services.create_tenant(name=f"{name}-{index}", actor=SYSTEM).keys[0].secret
        for index in range(count)
    ]


def make_replay_keys(base_url: str, secret: str) -> list[str]:
    """REPLAY_KEYS payments made with keys replay-1..N and the bodies replay.lua sends."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {secret}"

    def create(index: int) -> str:
        key = f"replay-{index}"
        body = {
            "amount": "15.00",
            "currency": "ZMW",
            "msisdn": "260961234567",
            "external_id": key,
        }
        response = session.post(
            f"{base_url}/api/v1/payments", json=body, headers={"Idempotency-Key": key}, timeout=30
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(create, range(1, REPLAY_KEYS + 1)))


# --- end to end ---------------------------------------------------------------------------


def create_payments(
    base_url: str, secret: str, *, prefix: str, count: int, concurrency: int
) -> float:
    """POST `count` collections from `concurrency` threads as fast as they are accepted
    (wrk cannot stop after a number of requests); returns requests per second."""
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(base_url)
    host = address.hostname or "127.0.0.1"
    numbers = iter(range(count))

    def work() -> None:
        for index in numbers:  # shared: each number is taken by one thread
            key = f"{prefix}-{index}"
            body = json.dumps({"amount": "15.00", "msisdn": "260961234567", "external_id": key})
            connection = http.client.HTTPConnection(host, address.port, timeout=60)
            connection.request(
                "POST",
                "/api/v1/payments",
                body,
                {
                    "Authorization": f"Bearer {secret}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": key,
                },
            )
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status != 201:
                raise SystemExit(f"create answered {response.status}")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(work) for _ in range(concurrency)]:
            future.result()
    return count / (time.perf_counter() - started)


@dataclass
class Settlement:
    workers: int
    payments: int
    settled_per_second: float
    p50: float
    p99: float
    failed: int
    create_rps: float
    pending: int
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per payment, by part


def settle(
    processes: Processes,
    *,
    base_env: dict[str, str],
    gateway_url: str,
    secret: str,
    tenant_prefix: str,
    workers: int,
    payments: int,
    timeout: float,
    connections: int,
) -> Settlement:
    from django.db import connection

    from payments.models import Payment, Status

    python = sys.executable
    for index in range(workers):
        processes.start(
            f"operator-{workers}-{index}",
            [python, "manage.py", "run_worker", "--queues", "operator", "--name", f"op{index}"],
            base_env,
        )
    processes.start(
        f"scheduler-{workers}",
        [
            python,
            "manage.py",
            "run_worker",
            "--queues",
            "scheduler,maintenance,sandbox",
            "--concurrency",
            "4",
            "--name",
            "scheduler",
        ],
        base_env,
    )
    time.sleep(3)  # workers up and listening
    meter = CpuMeter(processes)
    before = meter.snapshot()
    create_rps = create_payments(
        gateway_url, secret, prefix=tenant_prefix, count=payments, concurrency=connections
    )
    mine = Payment.objects.filter(external_id__startswith=f"{tenant_prefix}-")
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    while time.monotonic() < deadline:
        pending = mine.filter(status=Status.PENDING).count()
        if not pending:
            break
        if time.monotonic() - last_report > 10:
            print(f"  {pending} still pending", flush=True)
            last_report = time.monotonic()
        time.sleep(0.5)
        connection.close()
    after = meter.snapshot()
    rows = list(mine.values_list("status", "created_at", "completed_at"))
    done = [(created_at, completed) for status, created_at, completed in rows if completed]
    for index in range(workers):
        processes.stop(f"operator-{workers}-{index}")
    processes.stop(f"scheduler-{workers}")
    latencies = [(completed - created_at).total_seconds() * 1000 for created_at, completed in done]
    span = (
        max(completed for _, completed in done) - min(created_at for _, created_at, _ in rows)
    ).total_seconds()
    return Settlement(
        workers=workers,
        payments=len(rows),
        settled_per_second=len(done) / span if span else 0.0,
        p50=report.percentile(latencies, 0.50) if latencies else 0.0,
        p99=report.percentile(latencies, 0.99) if latencies else 0.0,
        failed=sum(1 for status, _, _ in rows if status == Status.FAILED),
        create_rps=create_rps,
        pending=sum(1 for status, _, _ in rows if status == Status.PENDING),
        cpu_ms=CpuMeter.per(before, after, len(rows)),
    )


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers, both")
    parser.add_argument("--payments", type=int, default=2000, help="end-to-end payments")
    parser.add_argument("--callback-delay", default="0.5", help="simulator: s to outcome")
    parser.add_argument("--e2e-timeout", type=float, default=600)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--max-load", type=float, default=0.7)
    parser.add_argument("--wait-load", type=float, default=900, help="s to wait for quiet")
    args = parser.parse_args()

    ensure_wrk()
    wait_for_quiet_machine(args.max_load, args.wait_load)
    started = datetime.datetime.now(datetime.UTC)
    load_at_start = os.getloadavg()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    results_dir = BENCH / "results"
    log_dir = results_dir / stamp
    log_dir.mkdir(parents=True, exist_ok=True)
    admin, database_url = bench_database()
    processes = Processes(log_dir)
    try:
        setup_django(database_url)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        env = {**os.environ, "DATABASE_URL": database_url}
        subprocess.run([sys.executable, str(BENCH / "baseline.py"), "migrate"], env=env, check=True)
        single = make_tenants(1, "bench-one")[0]
        sixteen = make_tenants(16, "bench-sixteen")
        e2e_keys = make_tenants(2, "bench-e2e")
        connections.close_all()

        gateway_port, baseline_port, simulator_port = free_port(), free_port(), free_port()
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        gateway_env = {
            **env,
            "DEBUG": "false",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "RATE_LIMIT": HUGE_RATE,
            "RATE_LIMIT_READ": HUGE_RATE,
            "RATE_LIMIT_WRITE": HUGE_RATE,
            "WEB_CONCURRENCY": str(args.web_workers),
            "GUNICORN_MAX_REQUESTS": "0",
            "PUBLIC_BASE_URL": gateway_url,
            "MTN_TEST_BASE_URL": f"http://127.0.0.1:{simulator_port}/sandbox/mtn",
            "MTN_TEST_CALLBACK_HOST": "127.0.0.1",
            "MTN_SIMULATOR_CALLBACK_DELAY_SECONDS": args.callback_delay,
        }
        processes.start(
            "gateway",
            gunicorn(
                "gateway.wsgi",
                gateway_port,
                args.web_workers,
                "--config",
                str(ROOT / "gateway" / "gunicorn.conf.py"),
            ),
            gateway_env,
        )
        processes.start(
            "baseline",
            gunicorn(
                "baseline:application",
                baseline_port,
                args.web_workers,
                "--chdir",
                str(BENCH),
                "--log-level",
                "warning",
            ),
            env,
        )
        wait_until_answers(f"{gateway_url}/health")
        wait_until_answers(f"http://127.0.0.1:{baseline_port}/ping")
        load_shape = {"threads": args.threads, "connections": args.connections}

        settlements: list[Settlement] = []
        if not args.skip_e2e:
            processes.start(
                "simulator",
                [sys.executable, "manage.py", "run_mtn_simulator", "--port", str(simulator_port)],
                {**gateway_env, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8"},
            )
            wait_until_answers(f"http://127.0.0.1:{simulator_port}/sandbox/mtn/ready")
            for workers, secret in zip((1, 2), e2e_keys, strict=True):
                print(f"end to end, {workers} operator worker(s)...", flush=True)
                settlements.append(
                    settle(
                        processes,
                        base_env=gateway_env,
                        gateway_url=gateway_url,
                        secret=secret,
                        tenant_prefix=f"e2e{workers}",
                        workers=workers,
                        payments=args.payments,
                        timeout=args.e2e_timeout,
                        connections=args.connections,
                    )
                )
            processes.stop("simulator")

        runs: dict[str, list[Run]] = {}
        meter = CpuMeter(processes)
        if not args.skip_http:
            ids = make_replay_keys(gateway_url, single)
            paths = Path(tempfile.mkstemp(suffix=".txt", dir=log_dir)[1])
            paths.write_text("".join(f"/api/v1/payments/{public_id}\n" for public_id in ids))
            list_path = Path(tempfile.mkstemp(suffix=".txt", dir=log_dir)[1])
            list_path.write_text("/api/v1/payments\n")
            cases: list[tuple[str, str, str, dict[str, str]]] = [
                ("baseline", f"http://127.0.0.1:{baseline_port}/pay", "pay.lua", {}),
                ("create-1", f"{gateway_url}/api/v1/payments", "create.lua", {}),
                (
                    "create-16",
                    f"{gateway_url}/api/v1/payments",
                    "create.lua",
                    {"KEYS": ",".join(sixteen)},
                ),
                (
                    "replay",
                    f"{gateway_url}/api/v1/payments",
                    "replay.lua",
                    {"COUNT": str(REPLAY_KEYS)},
                ),
                ("retrieve", gateway_url, "get.lua", {"PATHS_FILE": str(paths)}),
                ("list", gateway_url, "get.lua", {"PATHS_FILE": str(list_path)}),
            ]
            keys = {"baseline": "sk_test_baselinebaselinebaselinebaseline"}
            for round_number in range(args.rounds + 1):  # round 0 warms up, 2 s a case
                for name, url, script, extra in cases:
                    script_path = str(BENCH / script) if script == "pay.lua" else script
                    wrk_env = {"KEY": keys.get(name, single), "PREFIX": f"{name}{round_number}"}
                    before = meter.snapshot()
                    run = wrk(
                        name,
                        url,
                        script_path,
                        {**wrk_env, **extra},
                        duration="2s" if round_number == 0 else args.duration,
                        **load_shape,
                    )
                    run.cpu_ms = CpuMeter.per(before, meter.snapshot(), run.requests)
                    if round_number:
                        runs.setdefault(name, []).append(run)
                        print(
                            f"round {round_number} {name:<9} {run.rps:8.0f} req/s"
                            f" p99 {run.p99:6.1f} ms errors {run.errors}",
                            flush=True,
                        )
        text = render(
            runs,
            settlements,
            args=args,
            started=started,
            load_at_start=load_at_start,
            load_at_end=os.getloadavg(),
        )
        print(text)
        out = results_dir / f"{stamp}.md"
        out.write_text(text)
        print(f"written to {out.relative_to(ROOT)}; logs in {log_dir.relative_to(ROOT)}/")
    finally:
        processes.stop_all()
        with contextlib.suppress(Exception):
            from django.db import connections as django_connections

            django_connections.close_all()
        drop_database(admin)


def _median_run(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda run: run.rps)
    return ordered[(len(ordered) - 1) // 2]


def render(
    runs: dict[str, list[Run]],
    settlements: list[Settlement],
    *,
    args: argparse.Namespace,
    started: datetime.datetime,
    load_at_start: tuple[float, float, float],
    load_at_end: tuple[float, float, float],
) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [
        f"## Benchmark {started:%Y-%m-%d %H:%M} UTC, commit {commit}{' (dirty)' if dirty else ''}",
        "",
        f"`{' '.join(['bench/throughput.py', *sys.argv[1:]])}` on {os.cpu_count()} CPUs;"
        f" load average at start {' '.join(f'{x:.2f}' for x in load_at_start)},"
        f" at end {' '.join(f'{x:.2f}' for x in load_at_end)}.",
        f"HTTP: `wrk -t{args.threads} -c{args.connections} -d{args.duration} --latency`,"
        f" {args.rounds} rounds (median round shown), gunicorn --workers {args.web_workers}"
        " (sync) for both servers, no job worker running.",
        "",
    ]
    if runs:
        medians = {name: _median_run(each) for name, each in runs.items()}
        base = medians["baseline"].rps
        lines += report.markdown_table(
            ["case", "req/s", "x baseline", "p50 ms", "p99 ms", "non-2xx"],
            [
                [
                    name,
                    f"{run.rps:.0f}",
                    f"{run.rps / base:.2f}",
                    f"{run.p50:.1f}",
                    f"{run.p99:.1f}",
                    str(run.errors),
                ]
                for name, run in medians.items()
            ],
        )
        lines.append("")
        rounds = {name: [f"{run.rps:.0f}" for run in each] for name, each in runs.items()}
        lines.append("Every round, req/s: " + json.dumps(rounds))
        lines.append("")
        lines += targets(medians)
        lines += [
            "",
            "Where the CPU went, in ms per request (the machine has"
            f" {os.cpu_count()} CPUs, i.e. {(os.cpu_count() or 1) * 1000} ms a second):",
            "",
        ]
        lines += report.markdown_table(
            ["case", "server", "PostgreSQL", "wrk", "total", "req/s that total allows"],
            [
                [
                    name,
                    f"{_server_cpu(name, run):.2f}",
                    f"{run.cpu_ms.get('postgres', 0.0):.2f}",
                    f"{run.cpu_ms.get('client', 0.0):.2f}",
                    f"{_total_cpu(name, run):.2f}",
                    f"{(os.cpu_count() or 1) * 1000 / max(_total_cpu(name, run), 0.001):.0f}",
                ]
                for name, run in medians.items()
            ],
        )
    if settlements:
        lines += [
            "",
            f"End to end: {args.payments} collections created from {args.connections} client"
            " threads (as fast as they are accepted), simulator callback delay"
            f" {args.callback_delay} s, one scheduler worker plus N operator workers"
            " (WORKER_CONCURRENCY 16 each).",
            "",
        ]
        lines += report.markdown_table(
            [
                "operator workers",
                "payments",
                "created req/s",
                "settled /s",
                "create->final p50 ms",
                "p99 ms",
                "failed",
                "still pending",
            ],
            [
                [
                    str(each.workers),
                    str(each.payments),
                    f"{each.create_rps:.0f}",
                    f"{each.settled_per_second:.1f}",
                    f"{each.p50:.0f}",
                    f"{each.p99:.0f}",
                    str(each.failed),
                    str(each.pending),
                ]
                for each in settlements
            ],
        )
        parts = ["gateway", "simulator", "operator", "scheduler", "postgres", "client"]
        lines += [
            "",
            "Where the CPU went, in ms per payment settled (client: the 16 threads creating"
            " them, and this script):",
            "",
        ]
        lines += report.markdown_table(
            ["operator workers", *parts, "total", "payments/s that total allows"],
            [
                [
                    str(each.workers),
                    *(f"{each.cpu_ms.get(part, 0.0):.1f}" for part in parts),
                    f"{sum(each.cpu_ms.values()):.1f}",
                    f"{(os.cpu_count() or 1) * 1000 / max(sum(each.cpu_ms.values()), 0.001):.1f}",
                ]
                for each in settlements
            ],
        )
    return "\n".join(lines) + "\n"


def _server_cpu(name: str, run: Run) -> float:
    return run.cpu_ms.get("baseline" if name == "baseline" else "gateway", 0.0)


def _total_cpu(name: str, run: Run) -> float:
    return _server_cpu(name, run) + run.cpu_ms.get("postgres", 0.0) + run.cpu_ms.get("client", 0.0)


def targets(medians: dict[str, Run]) -> list[str]:
    base, one, many = medians["baseline"], medians["create-1"], medians["create-16"]
    replay = medians["replay"]
    checks: list[tuple[str, bool, str]] = [
        (
            "create (16 tenants) >= 0.8x baseline",
            many.rps >= 0.8 * base.rps,
            f"{many.rps / base.rps:.2f}x",
        ),
        ("create p99 <= 60 ms at 16 connections", many.p99 <= 60, f"{many.p99:.1f} ms"),
        (
            "one tenant within 10 % of sixteen",
            one.rps >= 0.9 * many.rps,
            f"{one.rps / many.rps:.2f}",
        ),
        ("replay >= 1.5x create", replay.rps >= 1.5 * many.rps, f"{replay.rps / many.rps:.2f}x"),
    ]
    return [f"- {'met' if ok else 'NOT met'}: {what} ({value})" for what, ok, value in checks]


if __name__ == "__main__":
    main()
