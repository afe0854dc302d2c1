"""The Zamtel simulator in its own process (`manage.py run_mtn_simulator` serves every
simulator), on the gateway's database: 200 requests at once are neither lost nor duplicated,
and each gets exactly one signed callback at its own URL."""

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

from providers.base import Operation, Outcome, PaymentInstruction
from providers.sandbox.zamtel.models import ZamtelCallbackAttempt, ZamtelTransaction
from providers.zamtel.adapter import ZamtelAdapter
from tests import live
from tests.providers.sandbox import conftest as sandbox
from tests.providers.zamtel.conftest import SECRET, TOKEN, config

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_stale_jobs")]

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
        "ZAMTEL_SIMULATOR_TOKENS": TOKEN,
        "ZAMTEL_SIMULATOR_CALLBACK_SECRET": SECRET,
        "ZAMTEL_SIMULATOR_CALLBACK_DELAY_SECONDS": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_mtn_simulator", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/sandbox/zamtel"
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


def test_two_hundred_concurrent_requests_are_neither_lost_nor_duplicated(
    simulator_process, callback_server, settings
) -> None:
    total = 200
    settings.ZAMTEL_SIMULATOR_CALLBACK_SECRET = SECRET  # the worker here signs the callbacks
    settings.ZAMTEL_READ_TIMEOUT_PAYMENT = 60.0
    settings.ZAMTEL_RETRY_ATTEMPTS = 1  # a lost request must show, not be retried away
    start = threading.Barrier(total)

    def pay(index: int) -> uuid.UUID:
        adapter = ZamtelAdapter(mode="test", config=config(simulator_process))  # a session each
        sent = PaymentInstruction(
            reference=uuid.uuid4(),
            operation=Operation.REQUEST_PAYMENT,
            amount=Decimal("10"),
            currency="ZMW",
            msisdn="260951234567",
            external_id=f"order-{index}",
            callback_url=f"{callback_server.url}/cb/{index}",
        )
        start.wait()  # all 200 at once
        assert adapter.request_payment(sent).outcome is Outcome.PENDING
        return sent.reference

    with ThreadPoolExecutor(total) as pool:
        references = list(pool.map(pay, range(total)))

    ids = {str(reference) for reference in references}
    assert len(ids) == total
    stored = list(ZamtelTransaction.objects.values_list("transaction_id", flat=True))
    assert sorted(stored) == sorted(ids)  # each once

    sandbox.run_worker(concurrency=4)

    received = callback_server.received
    assert sorted(callback.path for callback in received) == sorted(
        f"/cb/{index}" for index in range(total)
    )
    assert sorted(callback.body["depositId"] for callback in received) == sorted(ids)
    assert {callback.body["clientReferenceId"] for callback in received} == {
        f"order-{index}" for index in range(total)
    }
    checker = ZamtelAdapter(mode="test", config=config(simulator_process))
    for callback in received:
        # The simulator sends json.dumps(body): the same bytes again, so the signature holds.
        raw = json.dumps(callback.body).encode()
        assert checker.verify_callback(callback.headers, raw) is True
    assert ZamtelCallbackAttempt.objects.filter(status_code=200).count() == total
