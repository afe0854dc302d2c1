"""Outcomes by number: the gateway's test table and MTN's own sandbox values.

The status is computed from stored data and the clock, so these tests move the clock rather
than wait; callbacks are only deferred here (test_callbacks.py delivers them).
"""

from __future__ import annotations

import time
import uuid

import pytest

from providers.sandbox.models import MtnTransaction
from tests.providers.sandbox.conftest import callback_jobs

pytestmark = pytest.mark.django_db

DELAY = 5
CALLBACK = "http://127.0.0.1:9/callback"


@pytest.fixture(autouse=True)
def _delay(simulator_settings):
    simulator_settings.MTN_SIMULATOR_CALLBACK_DELAY_SECONDS = DELAY


@pytest.fixture
def token(mtn) -> str:
    return mtn.token()


def _callback_jobs(reference: str) -> int:
    return callback_jobs(reference).count()


@pytest.mark.parametrize(
    ("msisdn", "status", "reason", "callbacks"),
    [
        ("260960000001", "FAILED", "PAYER_NOT_FOUND", 1),
        ("260960000002", "FAILED", "APPROVAL_REJECTED", 1),
        ("260960000003", "FAILED", "EXPIRED", 1),
        ("260960000005", "FAILED", "NOT_ENOUGH_FUNDS", 1),
        ("260960000006", "SUCCESSFUL", None, 0),
        ("260960000010", "SUCCESSFUL", None, 2),
        ("260961234567", "SUCCESSFUL", None, 1),
        ("260760000001", "SUCCESSFUL", None, 1),
        ("46733123450", "FAILED", "INTERNAL_PROCESSING_ERROR", 1),
        ("46733123451", "FAILED", "APPROVAL_REJECTED", 1),
        ("46733123452", "FAILED", "EXPIRED", 1),
        ("46733123455", "FAILED", "PAYER_NOT_FOUND", 1),
        ("46733123456", "FAILED", "PAYEE_NOT_ALLOWED_TO_RECEIVE", 1),
        ("46733123460", "FAILED", "INVALID_CURRENCY", 1),
        ("46733123463", "FAILED", "COULD_NOT_PERFORM_TRANSACTION", 1),
        ("46733123464", "FAILED", "TRANSFER_TYPE_UNKNOWN", 1),
        ("56733123453", "SUCCESSFUL", None, 1),
    ],
)
def test_request_to_pay_is_pending_then_final(
    mtn, token, clock, msisdn, status, reason, callbacks
) -> None:
    reference, response = mtn.request_to_pay(
        token, msisdn, environment="sandbox", currency="EUR", callback_url=CALLBACK
    )
    assert response.status_code == 202

    pending = mtn.rtp_status(token, reference, environment="sandbox").json()
    assert pending["status"] == "PENDING"
    assert "financialTransactionId" not in pending
    assert "reason" not in pending

    clock.advance(DELAY + 0.1)
    final = mtn.rtp_status(token, reference, environment="sandbox").json()
    assert final["status"] == status
    assert final.get("reason") == reason
    if status == "SUCCESSFUL":
        assert final["financialTransactionId"].isdigit()
    else:
        assert "financialTransactionId" not in final
    assert final["payer"] == {"partyIdType": "MSISDN", "partyId": msisdn}
    assert final["amount"] == "10"
    assert final["currency"] == "EUR"
    assert final["externalId"] == "order-1"
    assert "referenceId" not in final
    assert _callback_jobs(reference) == callbacks


def test_pending_forever_number_never_resolves_nor_calls_back(mtn, token, clock) -> None:
    reference, _ = mtn.request_to_pay(token, "260960000004", callback_url=CALLBACK)

    clock.advance(30 * 24 * 3600)

    assert mtn.rtp_status(mtn.token(), reference).json()["status"] == "PENDING"
    assert _callback_jobs(reference) == 0


def test_delayed_mtn_number_stays_created(mtn, token, clock) -> None:
    reference, _ = mtn.request_to_pay(
        token, "46733123454", environment="sandbox", currency="EUR", callback_url=CALLBACK
    )

    clock.advance(3000)

    body = mtn.rtp_status(token, reference, environment="sandbox").json()
    assert body["status"] == "CREATED"
    assert _callback_jobs(reference) == 0


def test_ongoing_mtn_number_succeeds_after_the_ongoing_time(
    mtn, token, clock, simulator_settings
) -> None:
    simulator_settings.MTN_SIMULATOR_ONGOING_SECONDS = 30
    reference, _ = mtn.request_to_pay(token, "46733123453", environment="sandbox", currency="EUR")

    clock.advance(DELAY + 1)
    assert mtn.rtp_status(token, reference, environment="sandbox").json()["status"] == "PENDING"

    clock.advance(30)
    assert mtn.rtp_status(token, reference, environment="sandbox").json()["status"] == "SUCCESSFUL"


def test_mismatch_number_is_pending_until_twice_the_delay_then_failed(mtn, token, clock) -> None:
    reference, _ = mtn.request_to_pay(token, "260960000011", callback_url=CALLBACK)

    clock.advance(DELAY + 0.1)
    assert mtn.rtp_status(token, reference).json()["status"] == "PENDING"

    clock.advance(DELAY)
    final = mtn.rtp_status(token, reference).json()
    assert final["status"] == "FAILED"
    assert final["reason"] == "INTERNAL_PROCESSING_ERROR"
    assert _callback_jobs(reference) == 1


def test_first_attempt_of_the_retry_number_fails_and_the_retry_is_accepted(
    mtn, token, clock
) -> None:
    reference = str(uuid.uuid4())

    _, first = mtn.request_to_pay(token, "260960000008", reference=reference)
    assert first.status_code == 500
    assert first.json()["code"] == "INTERNAL_PROCESSING_ERROR"
    assert mtn.rtp_status(token, reference).status_code == 404  # not stored

    _, retry = mtn.request_to_pay(token, "260960000008", reference=reference)
    assert retry.status_code == 202
    _, again = mtn.request_to_pay(token, "260960000008", reference=reference)
    assert again.status_code == 409

    clock.advance(DELAY + 0.1)
    assert mtn.rtp_status(token, reference).json()["status"] == "SUCCESSFUL"


def test_unavailable_number_answers_503_to_everything(mtn, token) -> None:
    reference = str(uuid.uuid4())

    for _ in range(3):
        _, response = mtn.request_to_pay(token, "260960000009", reference=reference)
        assert response.status_code == 503
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    _, payout = mtn.transfer(mtn.token("disbursement"), "260960000009")
    assert payout.status_code == 503
    holder = mtn.get("/collection/v1_0/accountholder/msisdn/260960000009/active", token)
    assert holder.status_code == 503
    assert not MtnTransaction.objects.exists()


def test_slow_number_stores_the_request_before_answering_late(
    mtn, token, simulator_settings
) -> None:
    simulator_settings.MTN_SIMULATOR_SLOW_SECONDS = 0.5

    started = time.monotonic()
    reference, response = mtn.request_to_pay(token, "260960000007", callback_url=CALLBACK)

    assert time.monotonic() - started >= 0.5
    assert response.status_code == 202
    assert MtnTransaction.objects.filter(reference_id=reference).exists()
    assert _callback_jobs(reference) == 0  # found by polling


@pytest.mark.parametrize(
    ("msisdn", "status", "reason"),
    [
        ("260960000001", "FAILED", "PAYEE_NOT_FOUND"),
        ("260960000005", "FAILED", "NOT_ENOUGH_FUNDS"),
        ("46733123455", "FAILED", "NOT_ENOUGH_FUNDS"),
        ("46733123456", "FAILED", "PAYER_LIMIT_REACHED"),
        ("46733123457", "FAILED", "PAYEE_NOT_FOUND"),
        ("46733123463", "FAILED", "SERVICE_UNAVAILABLE"),
        ("260961234567", "SUCCESSFUL", None),
    ],
)
def test_transfer_outcome_follows_the_payee_column(mtn, clock, msisdn, status, reason) -> None:
    token = mtn.token("disbursement")
    reference, _ = mtn.transfer(token, msisdn)

    assert mtn.get(f"/disbursement/v1_0/transfer/{reference}", token).json()["status"] == "PENDING"
    clock.advance(DELAY + 0.1)

    final = mtn.get(f"/disbursement/v1_0/transfer/{reference}", token).json()
    assert final["status"] == status
    assert final.get("reason") == reason


def _paid_request(mtn, clock, msisdn="260961234567", amount="10") -> str:
    reference, _ = mtn.request_to_pay(mtn.token(), msisdn, amount=amount)
    clock.advance(DELAY + 0.1)
    return reference


def _refund(mtn, token, reference_to_refund: str, *, amount="10", version="v1_0"):
    body = {
        "amount": amount,
        "currency": "ZMW",
        "externalId": "refund-1",
        "payerMessage": "Refund",
        "payeeNote": "Refund",
        "referenceIdToRefund": reference_to_refund,
    }
    return mtn.submit(f"/disbursement/{version}/refund", token, body)


@pytest.mark.parametrize("version", ["v1_0", "v2_0"])
def test_refund_of_a_paid_request_pays_its_payer_back(mtn, clock, version) -> None:
    original = _paid_request(mtn, clock, amount="25.50")
    token = mtn.token("disbursement")

    reference, response = _refund(mtn, token, original, amount="25.5", version=version)
    assert response.status_code == 202
    clock.advance(DELAY + 0.1)

    status = mtn.get(f"/disbursement/v1_0/refund/{reference}", token).json()
    assert status["status"] == "SUCCESSFUL"
    assert status["payee"] == {"partyIdType": "MSISDN", "partyId": "260961234567"}
    assert status["amount"] == "25.5"


def test_refund_of_more_than_was_paid_fails(mtn, clock) -> None:
    original = _paid_request(mtn, clock, amount="10")
    token = mtn.token("disbursement")

    reference, _ = _refund(mtn, token, original, amount="10.01")
    clock.advance(DELAY + 0.1)

    status = mtn.get(f"/disbursement/v1_0/refund/{reference}", token).json()
    assert (status["status"], status["reason"]) == ("FAILED", "NOT_ALLOWED")


def test_refund_of_an_unknown_request_fails(mtn, clock) -> None:
    token = mtn.token("disbursement")

    reference, response = _refund(mtn, token, str(uuid.uuid4()))
    assert response.status_code == 202
    clock.advance(DELAY + 0.1)

    status = mtn.get(f"/disbursement/v1_0/refund/{reference}", token).json()
    assert (status["status"], status["reason"]) == ("FAILED", "TRANSACTION_NOT_FOUND")
    assert "payee" not in status


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1", "TRANSACTION_NOT_FOUND"),
        ("3", "APPROVAL_REJECTED"),
        ("13", "COULD_NOT_PERFORM_TRANSACTION"),
    ],
)
def test_refund_follows_mtns_sandbox_values(mtn, clock, value, reason) -> None:
    token = mtn.token("disbursement")

    reference, response = _refund(mtn, token, value)
    assert response.status_code == 202
    clock.advance(DELAY + 0.1)

    status = mtn.get(f"/disbursement/v1_0/refund/{reference}", token).json()
    assert (status["status"], status["reason"]) == ("FAILED", reason)


def test_refund_needs_a_reference_to_refund(mtn) -> None:
    _, response = _refund(mtn, mtn.token("disbursement"), "not a reference")

    assert response.status_code == 400
