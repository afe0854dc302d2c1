"""Real gateway processes for fault tests: workers, the standalone simulator, supervisord.

Everything listens on 127.0.0.1 and talks to the database named in DATABASE_URL. Each
process's output goes to a file, shown when a test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Short schedules so that recovery is measured in seconds: heartbeats every second, a worker
# silent for 3 s is dead, the recovery job and the poller run every second.
FAST = {
    "LOG_LEVEL": "WARNING",
    "WORKER_HEARTBEAT_SECONDS": "1",
    "WORKER_STALLED_SECONDS": "3",
    "WORKER_HEARTBEAT_MAX_AGE_SECONDS": "3",
    "JOB_RECOVERY_INTERVAL_SECONDS": "1",
    "PAYMENT_POLLER_INTERVAL_SECONDS": "1",
    "PAYMENT_POLL_SCHEDULE_SECONDS": "1",
    "MTN_RETRY_INITIAL_SECONDS": "0.05",
    "MTN_RETRY_MAX_SECONDS": "0.2",
    "MTN_SIMULATOR_CALLBACK_DELAY_SECONDS": "0.5",
    "MTN_TEST_CALLBACK_HOST": "127.0.0.1",
}


def wait_for(check: Callable[[], object], *, within: float, every: float = 0.2) -> object:
    """Poll `check` until it returns something truthy; that value, or None at the deadline."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye, as the kernel's OOM killer does it."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 45) -> int | None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode

    def output(self, last: int = 60) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-last:])


def environment(database_url: str, **overrides: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, **FAST, **overrides}


def start_worker(
    env: dict[str, str], log_dir: Path, *, name: str = "worker", queues: str = ""
) -> Process:
    argv = [sys.executable, "manage.py", "run_worker", "--name", name]
    if queues:
        argv += ["--queues", queues]
    return Process(name, argv, env, log_dir)


def start_simulator(env: dict[str, str], log_dir: Path, port: int) -> Process:
    """The standalone MTN simulator (its own gunicorn), ready when it answers."""
    process = Process(
        "simulator",
        [sys.executable, "manage.py", "run_mtn_simulator", "--port", str(port)],
        {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8", **env},
        log_dir,
    )
    url = f"http://127.0.0.1:{port}/sandbox/mtn/ready"
    if not wait_for(lambda: _answers(url), within=30):
        process.stop()
        raise AssertionError(f"the simulator did not start:\n{process.output()}")
    return process


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
    except requests.RequestException:
        return False
    return True
