"""The Airtel adapter against the Airtel simulator over real HTTP, for every test number."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from providers.airtel.adapter import AirtelAdapter
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
from providers.sandbox.airtel.models import AirtelTransaction
from tests.providers.airtel.conftest import config

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["v2", "v1"])
def adapter(request, live_server) -> AirtelAdapter:
    return AirtelAdapter(
        mode="test", config=config(f"{live_server.url}/sandbox/airtel", API_VERSION=request.param)
    )


def _instruction(msisdn: str, operation: Operation = Operation.REQUEST_PAYMENT, **extra):
    return PaymentInstruction(
        reference=uuid.uuid4(),
        operation=operation,
        amount=Decimal("150.50"),
        currency="ZMW",
        msisdn=msisdn,
        external_id="pay_abcdefghijklmnopqrstuvwx",
        **extra,
    )


def _settle(adapter: AirtelAdapter, instruction: PaymentInstruction) -> ProviderResult:
    deadline = time.monotonic() + 3
    while True:
        result = adapter.fetch_status(instruction)
        if result.outcome is not Outcome.PENDING or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


FINAL = {
    "260970000002": (Outcome.FAILED, FailureCode.PAYER_DECLINED),
    "260970000003": (Outcome.FAILED, FailureCode.EXPIRED),
    "260970000005": (Outcome.FAILED, FailureCode.INSUFFICIENT_FUNDS),
    "260970000006": (Outcome.SUCCESSFUL, None),
    "260970000010": (Outcome.SUCCESSFUL, None),
    "260971234567": (Outcome.SUCCESSFUL, None),
}


@pytest.mark.parametrize("operation", [Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT])
@pytest.mark.parametrize("msisdn", sorted(FINAL))
def test_numbers_reach_their_final_status(adapter, operation, msisdn) -> None:
    instruction = _instruction(msisdn, operation)
    collect = operation is Operation.REQUEST_PAYMENT
    send = adapter.request_payment if collect else adapter.send_payout

    assert send(instruction).outcome is Outcome.PENDING
    result = _settle(adapter, instruction)

    assert (result.outcome, result.failure_code) == FINAL[msisdn]
    if result.outcome is Outcome.SUCCESSFUL:
        assert (result.provider_transaction_id or "").startswith("MP")
    row = AirtelTransaction.objects.get(transaction_id=instruction.reference.hex)
    assert row.signed is adapter.v2


def test_not_registered_number(adapter) -> None:
    collection = _instruction("260970000001")
    adapter.request_payment(collection)
    assert _settle(adapter, collection).failure_code is FailureCode.NOT_ALLOWED
    with pytest.raises(PermanentError) as raised:
        adapter.send_payout(_instruction("260970000001", Operation.SEND_PAYOUT))
    assert raised.value.failure_code is FailureCode.INVALID_MSISDN
    assert adapter.account_holder("260970000001").active is False


def test_pending_forever_stays_pending(adapter) -> None:
    instruction = _instruction("260970000004")
    adapter.request_payment(instruction)
    time.sleep(0.5)
    assert adapter.fetch_status(instruction).outcome is Outcome.PENDING


def test_slow_answer_is_outcome_unknown_then_found_by_enquiry(adapter) -> None:
    instruction = _instruction("260970000007")
    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction)
    assert _settle(adapter, instruction).outcome is Outcome.SUCCESSFUL
    assert AirtelTransaction.objects.filter(transaction_id=instruction.reference.hex).count() == 1


def test_first_attempt_500_is_outcome_unknown_and_never_resent_with_a_new_id(adapter) -> None:
    instruction = _instruction("260970000008")
    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction)
    # The poller resubmits nothing; the same id sent again (a recovered job) is accepted once.
    assert adapter.request_payment(instruction).outcome is Outcome.PENDING
    assert adapter.request_payment(instruction).outcome is Outcome.PENDING  # duplicate: enquire
    assert AirtelTransaction.objects.filter(transaction_id=instruction.reference.hex).count() == 1


def test_unavailable_number_is_retryable(adapter) -> None:
    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(_instruction("260970000009"))
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE
    assert [call.status_code for call in raised.value.calls][-1] == 503


def test_callback_mismatch_enquiry_decides(adapter) -> None:
    instruction = _instruction("260970000011")
    adapter.request_payment(instruction)
    assert adapter.fetch_status(instruction).outcome is Outcome.PENDING


def test_whole_refund_by_airtel_money_id(adapter) -> None:
    collection = _instruction("260971234567")
    adapter.request_payment(collection)
    money_id = _settle(adapter, collection).provider_transaction_id

    refund = _instruction(
        "260971234567",
        Operation.REFUND,
        refund_of_reference=collection.reference,
        refund_of_transaction_id=money_id,
    )
    assert adapter.refund(refund).outcome is Outcome.SUCCESSFUL
    with pytest.raises(PermanentError):
        adapter.refund(refund)  # already refunded


def test_kyc_and_balance(adapter) -> None:
    holder = adapter.account_holder("260971234567")
    assert (holder.active, holder.given_name, holder.family_name) == (True, "Sand", "Box")
    assert adapter.balance().currency == "ZMW"


def test_a_wrong_pin_is_refused(live_server) -> None:
    adapter = AirtelAdapter(
        mode="test",
        config=config(f"{live_server.url}/sandbox/airtel", DISBURSEMENT_PIN="0000"),
    )
    with pytest.raises(PermanentError) as raised:
        adapter.send_payout(_instruction("260971234567", Operation.SEND_PAYOUT))
    assert raised.value.failure_code is FailureCode.PROVIDER_ERROR
    assert raised.value.calls[-1].request_body["pin"] == "[encrypted]"


def _sent_at(instruction: PaymentInstruction, seconds_ago: float) -> PaymentInstruction:
    return dataclasses.replace(
        instruction, submitted_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def _send_in_an_outage(adapter, settings, instruction, outage: str):
    """Send while the simulator's outage is on (the answer is a 500), then end the outage;
    returns the adapter's send method for the instruction's operation."""
    collect = instruction.operation is Operation.REQUEST_PAYMENT
    send = adapter.request_payment if collect else adapter.send_payout
    settings.AIRTEL_SIMULATOR_OUTAGE = outage
    with pytest.raises(OutcomeUnknownError):
        send(instruction)
    settings.AIRTEL_SIMULATOR_OUTAGE = "off"
    return send


@pytest.mark.parametrize("operation", [Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT])
def test_a_dropped_request_is_an_unknown_reference_only_past_the_margin(
    adapter, settings, operation
) -> None:
    adapter.config = {
        **adapter.config,
        "ENQUIRY_DELAY_SECONDS": "30",
        "NOT_FOUND_MARGIN_SECONDS": "60",
    }
    instruction = _instruction("260971234567", operation)
    send = _send_in_an_outage(adapter, settings, instruction, "drop")
    rows = AirtelTransaction.objects.filter(transaction_id=instruction.reference.hex)
    assert not rows.exists()

    # "Not found" within the delay and margin is only "not yet": nothing is sent.
    early = 89 if operation is Operation.REQUEST_PAYMENT else 59
    waiting = adapter.fetch_status(_sent_at(instruction, early))
    assert waiting.outcome is Outcome.PENDING
    assert [call.method for call in waiting.calls] == ["GET"]
    assert not rows.exists()

    # Past them: lost. The status check says so and sends nothing (the service resends).
    late = 91 if operation is Operation.REQUEST_PAYMENT else 61
    with pytest.raises(UnknownReference) as lost:
        adapter.fetch_status(_sent_at(instruction, late))
    assert [call.method for call in lost.value.calls] == ["GET"]
    assert not rows.exists()

    # Sent again with its id, it is taken now; a second resend is refused as a duplicate.
    assert send(instruction).outcome is Outcome.PENDING
    assert rows.count() == 1
    assert adapter.fetch_status(_sent_at(instruction, late)).outcome is not Outcome.FAILED
    assert send(instruction).outcome is Outcome.PENDING
    assert rows.count() == 1


@pytest.mark.parametrize("operation", [Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT])
def test_a_lost_answer_is_found_by_the_enquiry_and_never_taken_twice(
    adapter, settings, operation
) -> None:
    instruction = _instruction("260971234567", operation)
    send = _send_in_an_outage(adapter, settings, instruction, "lose_answer")

    # Airtel refuses the reused id (ESB000041 / DP00900001017): still one transaction.
    duplicate = send(instruction)
    assert duplicate.outcome is Outcome.PENDING
    assert duplicate.calls[-1].response_body["status"]["result_code"] == "ESB000041"
    result = _settle(adapter, _sent_at(instruction, 3600))
    assert result.outcome is Outcome.SUCCESSFUL
    assert AirtelTransaction.objects.filter(transaction_id=instruction.reference.hex).count() == 1


def test_a_resend_of_a_lost_payout_is_refused_definitely_when_the_number_is_not_registered(
    adapter, settings
) -> None:
    instruction = _instruction("260970000001", Operation.SEND_PAYOUT)  # not registered
    send = _send_in_an_outage(adapter, settings, instruction, "drop")
    with pytest.raises(UnknownReference):
        adapter.fetch_status(_sent_at(instruction, 3600))

    with pytest.raises(PermanentError) as refused:  # what the service's resend gets
        send(instruction)

    assert refused.value.failure_code is FailureCode.INVALID_MSISDN
