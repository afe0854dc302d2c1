"""Workers under production faults, as separate processes: SIGKILL in the middle of an
operator call, and operators that hang. The standalone MTN simulator serves MTN's API on
127.0.0.1; the gateway's API runs on the live server; workers are `manage.py run_worker`.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import AuditLog
from payments.ledger import checks
from payments.models import Payment, Transaction
from providers.sandbox.models import MtnTransaction
from tests import live
from tests.e2e import processes
from tests.e2e.processes import wait_for
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "260960000007"  # the simulator stores the request, then holds its answer


class Stack:
    def __init__(self, live_server_url: str, log_dir: Path, **env: str) -> None:
        self.log_dir = log_dir
        self.base_url = live_server_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {issue_key().secret}"
        self.processes: list[processes.Process] = []
        port = live.free_port()
        self.env = processes.environment(
            live.database_url(),
            PUBLIC_BASE_URL=live_server_url,  # callbacks reach the live server's API
            MTN_TEST_CALLBACK_HOST=urlsplit(live_server_url).hostname or "",
            MTN_TEST_BASE_URL=f"http://127.0.0.1:{port}/sandbox/mtn",
            **env,
        )
        self.processes.append(processes.start_simulator(self.env, log_dir, port))

    def worker(self, name: str = "worker", queues: str = "") -> processes.Process:
        process = processes.start_worker(self.env, self.log_dir, name=name, queues=queues)
        self.processes.append(process)
        return process

    def create(self, msisdn: str) -> str:
        response = self.session.post(
            f"{self.base_url}/api/v1/payments",
            json={"amount": "150.00", "msisdn": msisdn, "external_id": f"e2e-{time.time_ns()}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def status(self, public_id: str) -> str:
        response = self.session.get(f"{self.base_url}/api/v1/payments/{public_id}", timeout=10)
        return str(response.json()["status"])

    def logs(self) -> str:
        calls = Transaction.objects.values_list(
            "operation", "status_code", "error", "response_body"
        )
        return "\n".join(
            [*(f"--- {p.name}\n{p.output()}" for p in self.processes), *map(str, calls)]
        )


@pytest.fixture
def stack(live_server, tmp_path):
    stacks: list[Stack] = []

    def start(**env: str) -> Stack:
        stacks.append(Stack(live_server.url, tmp_path, **env))
        return stacks[-1]

    yield start
    for each in stacks:
        for process in each.processes:
            if process.alive():
                process.kill()  # the test is over: no graceful wait for hanging jobs


def _sent(public_id: str) -> int:
    """How many requests-to-pay the operator holds for this payment."""
    reference = Payment.objects.get(public_id=public_id).provider_reference
    return MtnTransaction.objects.filter(reference_id=reference).count()


def _final_transitions(public_id: str) -> int:
    payment = Payment.objects.get(public_id=public_id)
    return AuditLog.objects.filter(
        target_id=str(payment.pk), action__in=["payment.successful", "payment.failed"]
    ).count()


def test_a_worker_killed_during_a_hanging_submission_is_recovered_with_one_request_to_pay(
    stack,
) -> None:
    # The simulator holds its answer for 8 s; the adapter would wait up to 12 s for it.
    gateway = stack(MTN_SIMULATOR_SLOW_SECONDS="8", MTN_READ_TIMEOUT_PAYMENT="12")
    first = gateway.worker()
    public_id = gateway.create(SLOW)

    # The request is at the operator, and the worker is waiting for its answer.
    assert wait_for(lambda: _sent(public_id) == 1, within=20), gateway.logs()
    job = ProcrastinateJob.objects.get(task_name="payments.submit_payment")
    assert job.status == "doing"
    time.sleep(1)
    first.kill()
    killed = time.monotonic()
    gateway.worker(name="replacement")

    settled = wait_for(lambda: gateway.status(public_id) != "PENDING", within=40)

    recovered_in = time.monotonic() - killed
    assert settled, gateway.logs()
    assert gateway.status(public_id) == "SUCCESSFUL"
    assert _sent(public_id) == 1  # the retry reused the reference: MTN answered 409
    assert _final_transitions(public_id) == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 2)  # the killed attempt, one retry
    assert checks.find_breaches() == []  # credited once
    # Stalled after 3 s, found within 1 s, then a resubmission and a status check: about 6 s
    # here. Without recovery the job would stay `doing` and block the payment for good.
    assert recovered_in < 20


def test_hanging_submissions_do_not_delay_other_payments(stack) -> None:
    gateway = stack(MTN_SIMULATOR_SLOW_SECONDS="30", MTN_READ_TIMEOUT_PAYMENT="40")
    gateway.worker(queues="operator")
    gateway.worker(name="scheduler", queues="scheduler,maintenance,sandbox")
    hanging = [gateway.create(SLOW) for _ in range(3)]
    assert wait_for(lambda: all(_sent(p) == 1 for p in hanging), within=20), gateway.logs()

    started = time.monotonic()
    ordinary = [gateway.create(f"2609612345{index:02d}") for index in range(12)]
    assert wait_for(lambda: all(gateway.status(p) != "PENDING" for p in ordinary), within=15), (
        gateway.logs()
    )
    took = time.monotonic() - started

    assert [gateway.status(p) for p in ordinary] == ["SUCCESSFUL"] * 12
    assert [gateway.status(p) for p in hanging] == ["PENDING"] * 3  # still held by MTN
    assert took < 10  # about 3 s here; one at a time behind the hanging three: over 30 s
