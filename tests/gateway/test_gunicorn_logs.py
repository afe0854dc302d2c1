"""The production process writes only JSON lines, its own and the application's alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests import live

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_gunicorn_in_production_logs_one_json_object_per_line(tmp_path) -> None:
    port = live.free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": "s" * 64,
        "DATABASE_URL": live.database_url(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "PUBLIC_BASE_URL": "https://pay.example.zm",
        "OPERATOR_MODES": "mtn:test",
        "MTN_TEST_BASE_URL": "https://sandbox.momodeveloper.mtn.com",
        "WEB_CONCURRENCY": "1",
        "HOME": str(tmp_path),  # where gunicorn 27 would open its control socket
    }
    env.pop("LOG_FORMAT", None)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "gateway.wsgi",
            "--config",
            "gateway/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/health", timeout=1)
                break
            except requests.RequestException:  # not up yet, or slow to answer on a busy machine
                time.sleep(0.1)
        missing = requests.get(
            f"{base}/nope", headers={"X-Request-ID": "json-log-test-1"}, timeout=5
        )
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert missing.status_code == 404
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    access = [line for line in lines if line.get("path") == "/nope"]
    assert not any("/nope" in line["message"] for line in lines if line not in access)
    # No runtime control socket: one per-user path shared by every gunicorn on the host.
    assert not (tmp_path / ".gunicorn").exists()
    assert not any("control socket" in line["message"].lower() for line in lines)
    assert access == [
        {**access[0], "request_id": "json-log-test-1", "status": 404, "message": "request finished"}
    ]
