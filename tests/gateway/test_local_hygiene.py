"""`make stop` stops this checkout's embedded PostgreSQL and keeps its data."""

from __future__ import annotations

import os
import subprocess
import sys
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
