"""`make stop` stops this checkout's embedded PostgreSQL and keeps its data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _server_running(pgdata: Path) -> bool:
    found = subprocess.run(["pgrep", "-f", "--", f"-D {pgdata}"], capture_output=True, text=True)
    return found.returncode == 0


def test_make_stop_stops_the_embedded_server_and_keeps_its_data(tmp_path) -> None:
    var = tmp_path / "var"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env |= {"VAR_DIR": str(var), "XDG_RUNTIME_DIR": str(var / "run"), "LOG_LEVEL": "WARNING"}

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def make_stop() -> None:
        subprocess.run(["make", "--no-print-directory", "stop"], cwd=ROOT, env=env, check=True)

    try:
        manage("migrate", "--noinput")
        manage("create_tenant", "Kept Ltd")
        assert _server_running(var / "pgdata")

        make_stop()

        assert not _server_running(var / "pgdata")
        assert (var / "pgdata" / "PG_VERSION").exists()
        count = manage(
            "shell",
            "-c",
            "from tenants.models import Tenant;"
            " print(Tenant.objects.filter(name='Kept Ltd').count())",
        )
        assert count.strip().splitlines()[-1] == "1"  # started again on first use, with its data
    finally:
        make_stop()
    assert not _server_running(var / "pgdata")


def test_ctrl_c_on_make_run_stops_every_process_cleanly(tmp_path) -> None:
    """A real Ctrl-C: make runs on a pseudo-terminal as its foreground job, and the test
    types ^C into it; the terminal driver signals whichever group is in the foreground."""
    import fcntl
    import pty
    import signal
    import socket
    import termios
    import threading

    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    var = tmp_path / "var"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env |= {"VAR_DIR": str(var), "XDG_RUNTIME_DIR": str(var / "run"), "LOG_LEVEL": "WARNING"}
    master, terminal = pty.openpty()
    run = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        # The new session's controlling terminal, as a login shell's would be.
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(terminal)
    printed = bytearray()

    def drain() -> None:  # a full terminal buffer would block the processes writing to it
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            printed.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    try:
        for _ in range(240):
            try:
                if requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert run.poll() is None, (
                f"make run stopped by itself: {printed.decode(errors='replace')}"
            )
            time.sleep(0.5)
        else:
            raise AssertionError("make run never became ready")

        os.write(master, b"\x03")  # Ctrl-C

        status = run.wait(timeout=90)
        output = printed.decode(errors="replace")
        # supervisord stopped web and workers, then itself (it removes its pid file only on a
        # clean exit); make waited for it and exits with its status; nothing serves the port.
        assert status == 0, output
        assert "Interrupt" not in output, output
        assert not (var / "supervisord.pid").exists()
        serving = subprocess.run(["pgrep", "-f", "--", f"127.0.0.1:{port}"], capture_output=True)
        assert serving.returncode == 1
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        pidfile = var / "supervisord.pid"
        if pidfile.exists():  # a failed run: supervisord has a process group of its own
            os.killpg(int(pidfile.read_text()), signal.SIGKILL)
        subprocess.run(["make", "--no-print-directory", "stop"], cwd=ROOT, env=env, check=True)
        os.close(master)
