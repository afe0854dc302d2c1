"""`manage.py run_mtn_simulator` serves only the simulator, in its own process, on the
gateway's database: what one process stored, another answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from providers.sandbox.models import MtnTransaction
from tests import live
from tests.providers.sandbox.conftest import (
    API_KEY,
    BASE,
    SUB_KEY,
    USER_ID,
    MtnApi,
    requests_send,
    run_worker,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_stale_jobs")]

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def simulator_process():
    port = live.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": live.database_url(),
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
        "MTN_SIMULATOR_SUBSCRIPTION_KEYS": SUB_KEY,
        "MTN_SIMULATOR_USERS": f"{USER_ID}:{API_KEY}",
        "MTN_TEST_CALLBACK_HOST": "127.0.0.1",
        "MTN_SIMULATOR_CALLBACK_DELAY_SECONDS": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_mtn_simulator", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{base}{BASE}/ready", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()[0]
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_standalone_process_serves_the_simulator_on_the_shared_database(
    simulator_process, callback_server
) -> None:
    api = MtnApi(requests_send(simulator_process))
    token = api.token()

    reference, response = api.request_to_pay(token, callback_url=f"{callback_server.url}/cb")

    assert response.status_code == 202
    assert MtnTransaction.objects.filter(reference_id=reference).exists()  # seen from here
    assert api.rtp_status(token, reference).json()["status"] == "SUCCESSFUL"
    run_worker()  # the gateway's worker delivers the standalone simulator's callbacks
    [callback] = callback_server.received
    assert callback.body["status"] == "SUCCESSFUL"


def test_standalone_process_serves_nothing_of_the_gateway(simulator_process) -> None:
    assert requests.get(f"{simulator_process}/health", timeout=5).status_code == 404
    assert requests.get(f"{simulator_process}/api/schema/", timeout=5).status_code == 404
