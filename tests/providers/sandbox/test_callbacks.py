"""Callbacks are delivered by a real Procrastinate worker to an HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from providers.sandbox.models import MtnCallbackAttempt, MtnKind, MtnProduct, MtnTransaction
from providers.sandbox.mtn import parsing, selectors, services
from tests import live
from tests.providers.sandbox.conftest import USER_ID, callback_jobs, run_worker

pytestmark = [
    pytest.mark.django_db(transaction=True),  # a real worker needs committed rows
    pytest.mark.usefixtures("no_stale_jobs"),
]


class Rollback(Exception):
    pass


def test_callback_is_posted_like_mtn_posts_it(mtn, callback_server) -> None:
    token = mtn.token()
    reference, response = mtn.request_to_pay(
        token, "260961234567", callback_url=f"{callback_server.url}/callbacks/mtn/abc"
    )
    assert response.status_code == 202
    assert callback_server.received == []  # never from the request thread

    run_worker()

    [callback] = callback_server.received
    assert callback.method == "POST"
    assert callback.path == "/callbacks/mtn/abc"
    assert callback.headers["User-Agent"] == "LWAC Http Client 1.0"
    assert callback.headers["Content-Type"] == "application/json"
    assert "Authorization" not in callback.headers  # MTN signs nothing
    status = mtn.rtp_status(token, reference).json()
    assert callback.body == {
        "amount": "10",
        "currency": "ZMW",
        "financialTransactionId": status["financialTransactionId"],
        "externalId": "order-1",
        "payer": {"partyIdType": "MSISDN", "partyId": "260961234567"},
        "payeeNote": "Order 1",
        "status": "SUCCESSFUL",
    }
    attempt = MtnCallbackAttempt.objects.get()
    assert attempt.status_code == 200
    assert attempt.url == f"{callback_server.url}/callbacks/mtn/abc"
    assert attempt.body == callback.body
    assert callback_jobs(reference).get().status == "succeeded"


def test_failed_callback_carries_the_reason(mtn, callback_server) -> None:
    token = mtn.token()
    mtn.request_to_pay(token, "260960000002", callback_url=f"{callback_server.url}/cb")

    run_worker()

    [callback] = callback_server.received
    assert callback.body["status"] == "FAILED"
    assert callback.body["reason"] == "APPROVAL_REJECTED"
    assert "financialTransactionId" not in callback.body
    assert "referenceId" not in callback.body


def test_transfer_callback_names_the_payee(mtn, callback_server) -> None:
    mtn.transfer(mtn.token("disbursement"), callback_url=f"{callback_server.url}/cb")

    run_worker()

    [callback] = callback_server.received
    assert callback.body["payee"] == {"partyIdType": "MSISDN", "partyId": "260961234567"}


def test_no_callback_without_a_callback_url(mtn, callback_server) -> None:
    reference, _ = mtn.request_to_pay(mtn.token())

    run_worker()

    assert callback_server.received == []
    assert not callback_jobs(reference).exists()


@pytest.mark.parametrize("msisdn", ["260960000004", "260960000006"])
def test_silent_numbers_never_call_back(mtn, callback_server, msisdn) -> None:
    mtn.request_to_pay(mtn.token(), msisdn, callback_url=f"{callback_server.url}/cb")

    run_worker()

    assert callback_server.received == []


def test_duplicate_callback_number_calls_back_twice(mtn, callback_server) -> None:
    mtn.request_to_pay(mtn.token(), "260960000010", callback_url=f"{callback_server.url}/cb")

    run_worker()

    first, second = callback_server.received
    assert first.body == second.body
    assert first.body["status"] == "SUCCESSFUL"
    assert MtnCallbackAttempt.objects.count() == 2


def test_mismatch_number_calls_back_successful_while_get_says_pending_then_failed(
    mtn, callback_server, simulator_settings
) -> None:
    delay = 2
    simulator_settings.MTN_SIMULATOR_CALLBACK_DELAY_SECONDS = delay
    token = mtn.token()
    started = time.monotonic()
    reference, _ = mtn.request_to_pay(
        token, "260960000011", callback_url=f"{callback_server.url}/cb"
    )

    run_worker()  # nothing due yet
    assert callback_server.received == []
    time.sleep(max(0.0, started + delay + 0.2 - time.monotonic()))
    run_worker()

    [callback] = callback_server.received
    assert callback.body["status"] == "SUCCESSFUL"
    assert callback.body["financialTransactionId"].isdigit()
    assert time.monotonic() - started < 2 * delay, "too slow to see the PENDING window"
    assert mtn.rtp_status(token, reference).json()["status"] == "PENDING"
    time.sleep(max(0.0, started + 2 * delay + 0.2 - time.monotonic()))
    final = mtn.rtp_status(token, reference).json()
    assert (final["status"], final["reason"]) == ("FAILED", "INTERNAL_PROCESSING_ERROR")


def test_unreachable_callback_url_is_logged_not_retried(mtn) -> None:
    url = f"http://127.0.0.1:{live.free_port()}/cb"
    reference, _ = mtn.request_to_pay(mtn.token(), callback_url=url)

    run_worker()

    attempt = MtnCallbackAttempt.objects.get()
    assert attempt.status_code is None
    assert "ConnectionError" in attempt.error
    assert callback_jobs(reference).get().status == "succeeded"


def test_callback_job_commits_with_the_request_or_not_at_all(callback_server) -> None:
    reference = uuid.uuid4()
    user = selectors.get_api_user(user_id=uuid.UUID(USER_ID))
    request = parsing.MoneyRequest(
        amount=Decimal("10"),
        currency="ZMW",
        external_id="x",
        payer_message="",
        payee_note="",
        party=parsing.Party(id_type="MSISDN", id="260961234567"),
    )

    with pytest.raises(Rollback), transaction.atomic():
        services.submit_transaction(
            user=user,
            environment="mtnzambia",
            product=MtnProduct.COLLECTION,
            kind=MtnKind.REQUEST_TO_PAY,
            version="v1_0",
            reference_id=reference,
            request=request,
            callback_url=f"{callback_server.url}/cb",
        )
        raise Rollback

    assert not MtnTransaction.objects.exists()
    assert not ProcrastinateJob.objects.filter(queue_name="sandbox", status="todo").exists()
    run_worker()
    assert callback_server.received == []


def test_duplicate_reference_defers_no_second_callback(mtn, callback_server) -> None:
    token = mtn.token()
    reference, _ = mtn.request_to_pay(token, callback_url=f"{callback_server.url}/cb")

    _, again = mtn.request_to_pay(
        token, reference=reference, callback_url=f"{callback_server.url}/cb"
    )

    assert again.status_code == 409
    assert callback_jobs(reference).count() == 1


@pytest.mark.parametrize(
    ("path", "role", "method"),
    [
        ("/disbursement/v1_0/deposit", "payee", "POST"),
        ("/disbursement/v2_0/deposit", "payee", "PUT"),
        ("/collection/v1_0/requesttowithdraw", "payer", "POST"),
        ("/collection/v2_0/requesttowithdraw", "payer", "PUT"),
    ],
)
def test_callback_method_follows_the_api_version(mtn, callback_server, path, role, method) -> None:
    """MTN's callback page: Deposit-V1 calls back with POST, Deposit-V2 with PUT."""
    token = mtn.token(path.split("/")[1])
    _, response = mtn.submit(
        path,
        token,
        mtn.money_body("260961234567", role=role),
        callback_url=f"{callback_server.url}/cb",
    )
    assert response.status_code == 202

    run_worker()

    [callback] = callback_server.received
    assert callback.method == method
    assert MtnCallbackAttempt.objects.get().method == method


class FlakyReceiver:
    """Answers 503 to the first `failures` callbacks, then 200."""

    def __init__(self, failures: int) -> None:
        import http.server
        import threading

        self.statuses: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 503 if len(receiver.statuses) < failures else 200
                receiver.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/cb"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_undelivered_callback_is_retried_until_answered(mtn, simulator_settings) -> None:
    simulator_settings.MTN_SIMULATOR_CALLBACK_RETRY_SECONDS = [0, 0, 0, 0]
    receiver = FlakyReceiver(failures=2)
    try:
        reference, _ = mtn.request_to_pay(mtn.token(), callback_url=receiver.url)
        run_worker()
    finally:
        receiver.close()

    assert receiver.statuses == [503, 503, 200]
    attempts = MtnCallbackAttempt.objects.order_by("attempt")
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 503), (2, 503), (3, 200)]
    assert callback_jobs(reference).count() == 3


def test_callback_retries_stop_when_the_schedule_ends(mtn, simulator_settings) -> None:
    simulator_settings.MTN_SIMULATOR_CALLBACK_RETRY_SECONDS = [0, 0]
    # A port nobody listens on: every attempt is refused.
    reference, _ = mtn.request_to_pay(
        mtn.token(), callback_url=f"http://127.0.0.1:{live.free_port()}/cb"
    )

    run_worker()

    attempts = MtnCallbackAttempt.objects.order_by("attempt")
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.status_code is None and "ConnectionError" in a.error for a in attempts)
    assert callback_jobs(reference).filter(status="todo").count() == 0


def test_callback_retries_wait_on_the_schedule(mtn, simulator_settings) -> None:
    simulator_settings.MTN_SIMULATOR_CALLBACK_RETRY_SECONDS = [120]
    reference, _ = mtn.request_to_pay(
        mtn.token(), callback_url=f"http://127.0.0.1:{live.free_port()}/cb"
    )

    run_worker()

    assert MtnCallbackAttempt.objects.count() == 1
    [retry] = callback_jobs(reference).filter(status="todo")
    assert retry.args == {"transaction_id": retry.args["transaction_id"], "attempt": 2}
    assert retry.scheduled_at is not None
