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
