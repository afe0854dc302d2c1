from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Serve only the operator simulators (http://HOST:PORT/sandbox/mtn, /sandbox/airtel, "
        "/sandbox/zamtel) with gunicorn, e.g. as the operators of a load test. Their state is "
        "in the database, so they can run beside the gateway; callbacks are sent by the usual "
        "`manage.py procrastinate worker`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        config = str(Path(settings.BASE_DIR) / "gateway" / "gunicorn.conf.py")
        argv = [gunicorn, "providers.sandbox.wsgi", "--config", config, "--bind", f"{host}:{port}"]
        sys.stdout.flush()
        # Replaces this process, so signals reach gunicorn directly.
        os.execv(gunicorn, argv)  # noqa: S606  # fixed program, arguments are not a shell line
