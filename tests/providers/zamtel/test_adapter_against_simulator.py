"""The Zamtel adapter against the Zamtel simulator over real HTTP, for every test number, and
the simulator's signed callbacks through the gateway's callback view."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from providers.base import (
    FailureCode,
    Operation,
    Outcome,
    OutcomeUnknownError,
    PaymentInstruction,
    PermanentError,
    ProviderResult,
    RetryableError,
    UnknownReference,
)
from providers.sandbox.zamtel.models import ZamtelCallbackAttempt, ZamtelTransaction
from providers.zamtel.adapter import ZamtelAdapter
from tests.payments.factories import PaymentFactory
from tests.providers.sandbox import conftest as sandbox
from tests.providers.zamtel.conftest import SECRET, TOKEN, config
from webhooks.models import CallbackOutcome, InboundCallback

pytestmark = pytest.mark.django_db(transaction=True)
callback_server = sandbox.callback_server
no_stale_jobs = sandbox.no_stale_jobs


@pytest.fixture
def adapter(live_server) -> ZamtelAdapter:
    return ZamtelAdapter(mode="test", config=config(f"{live_server.url}/sandbox/zamtel"))


def _instruction(msisdn: str, operation: Operation = Operation.REQUEST_PAYMENT, **extra):
    return PaymentInstruction(
        reference=uuid.uuid4(),
        operation=operation,
        amount=Decimal("150.50"),
        currency="ZMW",
        msisdn=msisdn,
        external_id="order-1042",
        **extra,
    )


def _settle(adapter: ZamtelAdapter, instruction: PaymentInstruction) -> ProviderResult:
    deadline = time.monotonic() + 3
    while True:
        result = adapter.fetch_status(instruction)
        if result.outcome is not Outcome.PENDING or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


FINAL = {
    "260950000002": (Outcome.FAILED, FailureCode.PAYER_DECLINED),
    "260950000003": (Outcome.FAILED, FailureCode.EXPIRED),
    "260950000005": (Outcome.FAILED, FailureCode.INSUFFICIENT_FUNDS),
    "260950000006": (Outcome.SUCCESSFUL, None),
    "260950000010": (Outcome.SUCCESSFUL, None),
    "260951234567": (Outcome.SUCCESSFUL, None),
}


@pytest.mark.parametrize("operation", [Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT])
@pytest.mark.parametrize("msisdn", sorted(FINAL))
def test_numbers_reach_their_final_status(adapter, operation, msisdn) -> None:
    instruction = _instruction(msisdn, operation)
    send = (
        adapter.request_payment if operation is Operation.REQUEST_PAYMENT else adapter.send_payout
    )

    assert send(instruction).outcome is Outcome.PENDING
    result = _settle(adapter, instruction)

    assert (result.outcome, result.failure_code) == FINAL[msisdn]
    if result.outcome is Outcome.SUCCESSFUL:
        assert (result.provider_transaction_id or "").startswith("ZT")


def test_not_found_number(adapter) -> None:
    for operation in (Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT):
        instruction = _instruction("260950000001", operation)
        send = (
            adapter.request_payment
            if operation is Operation.REQUEST_PAYMENT
            else adapter.send_payout
        )
        send(instruction)
        assert _settle(adapter, instruction).failure_code is FailureCode.PAYER_NOT_FOUND
    assert adapter.account_holder("260950000001").active is False
    assert adapter.account_holder("260951234567").active is True


def test_pending_forever_stays_pending(adapter) -> None:
    instruction = _instruction("260950000004")
    adapter.request_payment(instruction)
    time.sleep(0.5)
    assert adapter.fetch_status(instruction).outcome is Outcome.PENDING


def test_slow_answer_is_outcome_unknown_then_found_by_enquiry(adapter) -> None:
    instruction = _instruction("260950000007")
    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction)
    assert _settle(adapter, instruction).outcome is Outcome.SUCCESSFUL
    assert ZamtelTransaction.objects.filter(transaction_id=str(instruction.reference)).count() == 1


def test_first_attempt_500_is_outcome_unknown_and_the_same_id_is_taken_once(adapter) -> None:
    instruction = _instruction("260950000008")
    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction)
    with pytest.raises(OutcomeUnknownError):
        adapter.fetch_status(instruction)  # not stored: NOT_FOUND, never a failure
    assert adapter.request_payment(instruction).outcome is Outcome.PENDING  # a recovered job
    assert adapter.request_payment(instruction).outcome is Outcome.PENDING  # DUPLICATE_IGNORED
    assert ZamtelTransaction.objects.filter(transaction_id=str(instruction.reference)).count() == 1
    assert _settle(adapter, instruction).outcome is Outcome.SUCCESSFUL


@pytest.mark.parametrize("operation", [Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT])
def test_an_id_still_unknown_past_the_margin_is_an_unknown_reference(adapter, operation) -> None:
    adapter.config = {**adapter.config, "NOT_FOUND_MARGIN_SECONDS": "60"}
    instruction = _instruction("260950000008", operation)  # 500 to the first attempt
    send = (
        adapter.request_payment if operation is Operation.REQUEST_PAYMENT else adapter.send_payout
    )
    with pytest.raises(OutcomeUnknownError):
        send(instruction)
    rows = ZamtelTransaction.objects.filter(transaction_id=str(instruction.reference))

    with pytest.raises(OutcomeUnknownError):  # "not found" within the margin: not yet
        adapter.fetch_status(_sent_at(instruction, 59))
    assert not rows.exists()
    with pytest.raises(UnknownReference) as lost:  # past it: lost, and nothing is sent
        adapter.fetch_status(_sent_at(instruction, 61))
    assert [call.method for call in lost.value.calls] == ["GET"]
    assert not rows.exists()

    assert send(instruction).outcome is Outcome.PENDING  # the service's resend, same id
    assert rows.count() == 1
    assert _settle(adapter, _sent_at(instruction, 61)).outcome is Outcome.SUCCESSFUL
    assert send(instruction).outcome is Outcome.PENDING  # DUPLICATE_IGNORED
    assert rows.count() == 1


def _sent_at(instruction: PaymentInstruction, seconds_ago: float) -> PaymentInstruction:
    return dataclasses.replace(
        instruction, submitted_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_unavailable_number_is_retryable(adapter) -> None:
    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(_instruction("260950000009"))
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE
    assert [call.status_code for call in raised.value.calls] == [503, 503, 503]
    assert not ZamtelTransaction.objects.exists()
    with pytest.raises(RetryableError):
        adapter.account_holder("260950000009")


def test_callback_mismatch_the_enquiry_decides(adapter) -> None:
    instruction = _instruction("260950000011")
    adapter.request_payment(instruction)
    time.sleep(0.35)  # the callback's time: it would say COMPLETED
    assert adapter.fetch_status(instruction).outcome is Outcome.PENDING
    time.sleep(0.35)
    result = adapter.fetch_status(instruction)
    assert (result.outcome, result.failure_code) == (Outcome.FAILED, FailureCode.PROVIDER_ERROR)


def test_partial_refunds_up_to_the_deposit(adapter) -> None:
    collection = _instruction("260951234567")
    adapter.request_payment(collection)
    assert _settle(adapter, collection).outcome is Outcome.SUCCESSFUL

    def refund(amount: str) -> PaymentInstruction:
        return PaymentInstruction(
            reference=uuid.uuid4(),
            operation=Operation.REFUND,
            amount=Decimal(amount),
            currency="ZMW",
            msisdn=collection.msisdn,
            external_id="refund",
            refund_of_reference=collection.reference,
        )

    first = refund("100.00")
    assert adapter.refund(first).outcome is Outcome.PENDING
    assert _settle(adapter, first).outcome is Outcome.SUCCESSFUL
    assert adapter.refund(refund("50.50")).outcome is Outcome.PENDING
    with pytest.raises(PermanentError):
        adapter.refund(refund("0.01"))  # more than the deposit in all


def test_a_refund_of_an_unknown_deposit_is_refused(adapter) -> None:
    with pytest.raises(PermanentError):
        adapter.refund(
            _instruction("260951234567", Operation.REFUND, refund_of_reference=uuid.uuid4())
        )


def test_balance(adapter) -> None:
    assert adapter.balance().currency == "ZMW"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": "5.555"}, "INVALID_AMOUNT"),
        ({"amount": ".5"}, "INVALID_AMOUNT"),
        ({"amount": 5}, "INVALID_AMOUNT"),
        ({"currency": "USD"}, "INVALID_CURRENCY"),
        (
            {
                "payer": {
                    "type": "MMO",
                    "accountDetails": {"phoneNumber": "260961234567", "provider": "ZAMTEL_ZMB"},
                }
            },
            "INVALID_PAYER_FORMAT",
        ),
        (
            {
                "payer": {
                    "type": "MMO",
                    "accountDetails": {"phoneNumber": "260951234567", "provider": "MTN_MOMO_ZMB"},
                }
            },
            "PARAMETER_INVALID",
        ),
    ],
)
def test_the_simulator_rejects_what_the_contract_rejects(live_server, body, code) -> None:
    sent = {
        "depositId": str(uuid.uuid4()),
        "amount": "10.00",
        "currency": "ZMW",
        "payer": {
            "type": "MMO",
            "accountDetails": {"phoneNumber": "260951234567", "provider": "ZAMTEL_ZMB"},
        },
        **body,
    }
    answer = requests.post(
        f"{live_server.url}/sandbox/zamtel/v2/deposits",
        json=sent,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )

    assert answer.status_code == 200
    assert answer.json()["status"] == "REJECTED"
    assert answer.json()["failureReason"]["failureCode"] == code
    assert not ZamtelTransaction.objects.exists()


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}]
)
def test_the_simulator_refuses_a_bad_token(live_server, headers) -> None:
    answer = requests.get(
        f"{live_server.url}/sandbox/zamtel/v2/wallet-balances", headers=headers, timeout=10
    )

    assert answer.status_code == 401


def test_an_id_that_is_not_a_uuid4_is_a_400(live_server) -> None:
    answer = requests.post(
        f"{live_server.url}/sandbox/zamtel/v2/deposits",
        json={"depositId": "order-1", "amount": "1.00", "currency": "ZMW"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 400


@pytest.mark.usefixtures("no_stale_jobs")
def test_callbacks_are_signed_go_to_the_requests_url_and_twice_for_010(
    adapter, callback_server
) -> None:
    once = _instruction("260951234567", callback_url=f"{callback_server.url}/cb/once")
    twice = _instruction("260950000010", callback_url=f"{callback_server.url}/cb/twice")
    never = _instruction("260950000006", callback_url=f"{callback_server.url}/cb/never")
    for instruction in (once, twice, never):
        adapter.request_payment(instruction)
    time.sleep(0.35)

    sandbox.run_worker()

    paths = sorted(callback.path for callback in callback_server.received)
    assert paths == ["/cb/once", "/cb/twice", "/cb/twice"]
    for callback in callback_server.received:
        raw = json.dumps(callback.body).encode()
        assert callback.body["status"] == "COMPLETED"
        # The simulator sends json.dumps(body): the same bytes again, so the signature holds.
        assert adapter.verify_callback(callback.headers, raw) is True
        assert ZamtelAdapter.callback_reference(raw) in {once.reference, twice.reference}
    assert ZamtelCallbackAttempt.objects.filter(status_code=200).count() == 3


@pytest.mark.usefixtures("no_stale_jobs")
def test_a_simulator_callback_through_the_gateways_view_is_verified_and_asks_for_a_refresh(
    adapter, live_server, settings
) -> None:
    settings.ZAMTEL = {
        **settings.ZAMTEL,
        "test": {**settings.ZAMTEL["test"], "CALLBACK_SECRET": SECRET},
    }
    payment = PaymentFactory.create(provider="zamtel", msisdn="260951234567")
    instruction = PaymentInstruction(
        reference=payment.provider_reference,
        operation=Operation.REQUEST_PAYMENT,
        amount=payment.amount,
        currency="ZMW",
        msisdn=payment.msisdn,
        external_id=payment.external_id,
        callback_url=f"{live_server.url}/api/v1/webhooks/zamtel/{payment.callback_token}",
    )
    adapter.request_payment(instruction)
    time.sleep(0.35)

    sandbox.run_worker()

    [stored] = InboundCallback.objects.filter(payment=payment)
    assert stored.signature_valid is True
    assert stored.outcome == CallbackOutcome.REFRESH_REQUESTED
    assert {"signature", "signature-input", "content-digest"} <= {k.lower() for k in stored.headers}


@pytest.mark.usefixtures("no_stale_jobs")
def test_a_callback_signed_with_another_secret_is_401_through_the_view(
    adapter, live_server, settings
) -> None:
    settings.ZAMTEL = {
        **settings.ZAMTEL,
        "test": {**settings.ZAMTEL["test"], "CALLBACK_SECRET": "another"},
    }
    payment = PaymentFactory.create(provider="zamtel", msisdn="260951234567")
    adapter.request_payment(
        PaymentInstruction(
            reference=payment.provider_reference,
            operation=Operation.REQUEST_PAYMENT,
            amount=payment.amount,
            currency="ZMW",
            msisdn=payment.msisdn,
            external_id=payment.external_id,
            callback_url=f"{live_server.url}/api/v1/webhooks/zamtel/{payment.callback_token}",
        )
    )
    time.sleep(0.35)

    sandbox.run_worker()

    [attempt] = ZamtelCallbackAttempt.objects.all()
    assert attempt.status_code == 401
    [stored] = InboundCallback.objects.filter(payment=payment)
    assert stored.outcome == CallbackOutcome.BAD_SIGNATURE


def test_fault_injection_answers_503_before_anything_is_stored(adapter, settings) -> None:
    settings.ZAMTEL_SIMULATOR_FAILURE_RATE = 1.0

    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(_instruction("260951234567"))

    assert [call.status_code for call in raised.value.calls] == [503, 503, 503]
    assert not ZamtelTransaction.objects.exists()


def test_injected_latency_delays_every_answer(adapter, settings) -> None:
    settings.ZAMTEL_SIMULATOR_LATENCY_MS = 300
    started = time.monotonic()

    adapter.balance()

    assert time.monotonic() - started >= 0.3
