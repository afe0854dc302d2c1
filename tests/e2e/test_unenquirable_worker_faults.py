"""A worker SIGKILLed while an Airtel refund POST is in flight, as separate processes.

Airtel refunds carry only the collection's airtel_money_id (no reference of ours) and have no
status enquiry, so a resend cannot be recognised as the same request: Airtel refuses it as
"already refunded" while the first one moved the money. The gateway's API and the Airtel
simulator run on the live server (in this process, so the test can count the requests the
simulator receives); the refund is sent by a real `manage.py run_worker`, which is killed
while the simulator holds the answer, and a replacement worker recovers its job.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.core.signals import request_finished, request_started
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.services import SYSTEM
from payments import services
from payments.ledger import checks
from payments.models import Payment, Status
from providers.sandbox.airtel.models import AirtelKind, AirtelTransaction
from tests import live
from tests.e2e import processes
from tests.e2e.conftest import drive_all
from tests.e2e.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "260970000007"  # Airtel stores the refund of its collection, then holds the answer
REFUND_PATH = "/sandbox/airtel/standard/v2/payments/refund"


class RefundPosts:
    """The refund POSTs the Airtel simulator received, and how many it has answered."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = self.finished = 0
        self.busy: set[int] = set()

    def on_started(self, sender: object, environ: dict[str, str], **_: object) -> None:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == REFUND_PATH:
            with self.lock:
                self.started += 1
                self.busy.add(threading.get_ident())

    def on_finished(self, sender: object, **_: object) -> None:
        with self.lock:
            if threading.get_ident() in self.busy:
                self.busy.discard(threading.get_ident())
                self.finished += 1


@pytest.fixture
def refund_posts():
    posts = RefundPosts()
    request_started.connect(posts.on_started)
    request_finished.connect(posts.on_finished)
    yield posts
    request_started.disconnect(posts.on_started)
    request_finished.disconnect(posts.on_finished)


@pytest.fixture
def workers(tmp_path):
    started: list[processes.Process] = []
    yield started
    for process in started:
        if process.alive():
            process.kill()  # the test is over: no graceful wait for a hanging job


def test_a_worker_killed_during_an_airtel_refund_post_leaves_it_for_ops_never_resent(
    merchant, live_server, settings, tmp_path, workers, refund_posts
) -> None:
    # The collection, in this process: Airtel holds its answer 2 s (past our 1 s read
    # timeout) and the poller's enquiry finds it paid.
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    [collected] = drive_all(merchant, [merchant.create(SLOW)["id"]]).values()
    assert collected["status"] == "SUCCESSFUL"
    available_before, reserved_before = merchant.balance()
    assert reserved_before == 0

    # The refund goes to a worker process that would wait 12 s for an answer held 8 s.
    settings.AIRTEL_SIMULATOR_SLOW_SECONDS = 8.0
    env = processes.environment(
        live.database_url(),
        PUBLIC_BASE_URL=live_server.url,
        AIRTEL_TEST_BASE_URL=f"{live_server.url}/sandbox/airtel",
        AIRTEL_READ_TIMEOUT_PAYMENT="12",
        AIRTEL_RETRY_INITIAL_SECONDS="0.05",
        AIRTEL_RETRY_MAX_SECONDS="0.1",
    )
    workers.append(processes.start_worker(env, tmp_path, name="worker"))
    answer = merchant.refund(collected["id"])
    assert answer.status_code == 201, answer.text
    refund_id = answer.json()["id"]
    reserved = merchant.balance()[1]
    assert reserved == Decimal(answer.json()["amount"]) + Decimal(answer.json()["fee"])

    def logs() -> str:
        return "\n".join(f"--- {p.name}\n{p.output()}" for p in workers)

    # Airtel has the refund (the money goes back) and the worker waits for the answer.
    stored = AirtelTransaction.objects.filter(
        kind=AirtelKind.REFUND, refunded_money_id=collected["provider_transaction_id"]
    )
    assert wait_for(stored.exists, within=20), logs()
    job = ProcrastinateJob.objects.get(
        task_name="payments.submit_payment",
        args__payment_id=Payment.objects.get(public_id=refund_id).pk,
    )
    assert job.status == "doing"
    time.sleep(1)
    workers[0].kill()
    assert refund_posts.finished == 0  # killed before Airtel answered
    workers.append(processes.start_worker(env, tmp_path, name="replacement"))

    # The replacement takes the dead worker's job over (stalled after 3 s): it must not send
    # the refund again, whose refusal ("already refunded") would read as FAILED.
    settled = wait_for(
        lambda: (p := merchant.get(refund_id))["status"] != "PENDING" or p["next_action"],
        within=30,
    )
    refund = merchant.get(refund_id)
    assert settled, logs()
    assert (refund["status"], refund["next_action"]) == ("PENDING", "manual_review"), (
        f"refund POSTs received: {refund_posts.started}\n{logs()}"
    )
    payment = Payment.objects.get(public_id=refund_id)
    assert "previous attempt" in payment.review_reason
    job.refresh_from_db()
    assert job.attempts == 2  # the killed attempt, and the recovered one
    time.sleep(2)  # the poller runs every second: it does not resend either
    assert refund_posts.started == 1
    assert stored.count() == 1
    assert payment.provider_calls.count() == 0  # the killed attempt recorded nothing
    # The money may have left: the reservation is held, and no second refund is possible.
    assert merchant.balance() == (available_before - reserved, reserved)
    again = merchant.refund(collected["id"])
    assert (again.status_code, again.json()["code"]) == (422, "refund_exceeds_payment")

    # Ops find the refund paid on Airtel's side and settle it: the reservation is posted.
    settled_refund = services.resolve_review(
        payment=payment,
        status=Status.SUCCESSFUL,
        reason="Airtel portal shows the refund paid",
        actor=SYSTEM,
        provider_transaction_id=stored.get().airtel_money_id,
    )

    assert settled_refund.status == Status.SUCCESSFUL
    assert merchant.get(refund_id)["status"] == "SUCCESSFUL"
    assert merchant.balance() == (available_before - reserved, Decimal("0.00"))
    assert checks.find_breaches() == []
    # The simulator's held answer goes to a closed socket; let it finish before teardown.
    assert wait_for(lambda: refund_posts.finished == 1, within=15)
    assert refund_posts.started == 1
