"""`manage.py run_mtn_simulator` serves only the simulator, in its own process, on the
gateway's database: what one process stored, another answers."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from providers.sandbox.models import MtnCallbackAttempt, MtnTransaction
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
        # Bounded database connections (4 x 4), however many clients call at once.
        "WEB_CONCURRENCY": "4",
        "GUNICORN_THREADS": "4",
        "LOG_LEVEL": "WARNING",
        "MTN_SIMULATOR_SUBSCRIPTION_KEYS": f"collection:{SUB_KEY}",
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
            except requests.RequestException:  # not listening, or still booting its workers
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


def test_two_hundred_concurrent_requests_are_neither_lost_nor_duplicated(
    simulator_process, callback_server
) -> None:
    total = 200
    token = MtnApi(requests_send(simulator_process)).token()
    start = threading.Barrier(total)

    def post(index: int) -> str:
        api = MtnApi(requests_send(simulator_process, timeout=60))  # a session per client
        body = api.money_body("260961234567", externalId=f"order-{index}")
        start.wait()  # all 200 at once
        reference, response = api.submit(
            "/collection/v1_0/requesttopay",
            token,
            body,
            callback_url=f"{callback_server.url}/cb/{index}",
        )
        assert response.status_code == 202, response.content
        return reference

    with ThreadPoolExecutor(total) as pool:
        references = list(pool.map(post, range(total)))

    assert len(set(references)) == total
    stored = set(map(str, MtnTransaction.objects.values_list("reference_id", flat=True)))
    assert stored == set(references)

    run_worker(concurrency=4)

    paths = sorted(callback.path for callback in callback_server.received)
    assert paths == sorted(f"/cb/{index}" for index in range(total))
    assert {callback.body["externalId"] for callback in callback_server.received} == {
        f"order-{index}" for index in range(total)
    }
    assert MtnCallbackAttempt.objects.filter(status_code=200).count() == total
