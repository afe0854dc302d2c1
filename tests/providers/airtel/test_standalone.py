"""The Airtel simulator in its own process (`manage.py run_mtn_simulator` serves every
simulator), on the gateway's database: 200 signed requests at once are neither lost nor
duplicated, and each gets exactly one callback to the app's one callback URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from providers.airtel.adapter import AirtelAdapter
from providers.base import Operation, Outcome, PaymentInstruction
from providers.sandbox.airtel.models import AirtelCallbackAttempt, AirtelTransaction
from tests import live
from tests.providers.airtel.conftest import CLIENT_ID, CLIENT_SECRET, HASH_KEY, PIN, config
from tests.providers.sandbox import conftest as sandbox

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_stale_jobs")]

# The sandbox tests' fixtures: a merchant-like callback server, no callback jobs left over.
callback_server = sandbox.callback_server
no_stale_jobs = sandbox.no_stale_jobs
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def simulator_process():
    port = live.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": live.database_url(),
        "WEB_CONCURRENCY": "4",
        "GUNICORN_THREADS": "4",
        "LOG_LEVEL": "WARNING",
        "AIRTEL_SIMULATOR_CLIENTS": f"{CLIENT_ID}:{CLIENT_SECRET}",
        "AIRTEL_SIMULATOR_PIN": PIN,
        "AIRTEL_SIMULATOR_CALLBACK_HASH_KEY": HASH_KEY,
        "AIRTEL_SIMULATOR_CALLBACK_DELAY_SECONDS": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_mtn_simulator", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/sandbox/airtel"
    try:
        for _ in range(200):
            try:
                requests.get(f"{base}/ready", timeout=1)  # any answer: it is listening
                break
            except requests.RequestException:
                assert process.poll() is None, process.communicate()[0]
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_two_hundred_concurrent_signed_requests_are_neither_lost_nor_duplicated(
    simulator_process, callback_server, settings
) -> None:
    total = 200
    # The worker of this process delivers the callbacks, to Airtel's one URL per app.
    settings.AIRTEL_SIMULATOR_CALLBACK_URL = f"{callback_server.url}/airtel"
    settings.AIRTEL_READ_TIMEOUT_PAYMENT = 60.0
    settings.AIRTEL_RETRY_ATTEMPTS = 1  # a lost request must show, not be retried away
    public_key = AirtelAdapter(mode="test", config=config(simulator_process)).public_key()
    start = threading.Barrier(total)

    def pay(index: int) -> uuid.UUID:
        # A client of its own per request (session, token), the body signed (v2).
        adapter = AirtelAdapter(
            mode="test", config=config(simulator_process, PUBLIC_KEY=public_key)
        )
        adapter.token()
        sent = PaymentInstruction(
            reference=uuid.uuid4(),
            operation=Operation.REQUEST_PAYMENT,
            amount=Decimal("10"),
            currency="ZMW",
            msisdn="260971234567",
            external_id=f"order{index:04d}",
        )
        start.wait()  # all 200 at once
        assert adapter.request_payment(sent).outcome is Outcome.PENDING
        return sent.reference

    with ThreadPoolExecutor(total) as pool:
        references = list(pool.map(pay, range(total)))

    ids = {reference.hex for reference in references}
    assert len(ids) == total
    stored = list(AirtelTransaction.objects.values_list("transaction_id", flat=True))
    assert sorted(stored) == sorted(ids)  # each once
    assert AirtelTransaction.objects.filter(signed=True).count() == total

    sandbox.run_worker(concurrency=4)

    received = [callback.body["transaction"]["id"] for callback in callback_server.received]
    assert sorted(received) == sorted(ids)  # one callback each
    assert {callback.path for callback in callback_server.received} == {"/airtel"}
    checker = AirtelAdapter(mode="test", config=config(simulator_process))
    for callback in callback_server.received[:5]:
        assert checker.verify_callback({}, json.dumps(callback.body).encode()) is True
    assert AirtelCallbackAttempt.objects.filter(status_code=200).count() == total
