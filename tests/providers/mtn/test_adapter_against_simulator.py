"""The MTN adapter against the running MTN simulator, over real HTTP on loopback.

One test per row of the test-number table (API.md, "Testing"), plus MTN's own sandbox numbers.
The adapter is configured exactly as test mode configures it; it cannot tell the simulator
from MTN.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from django.conf import settings

from providers.base import (
    FailureCode,
    Operation,
    Outcome,
    OutcomeUnknownError,
    PaymentInstruction,
    PermanentError,
    Provider,
    ProviderResult,
    RetryableError,
)
from providers.mtn.adapter import MtnAdapter
from providers.resilience import tuning
from providers.sandbox.models import MtnTransaction

pytestmark = pytest.mark.django_db(transaction=True)  # the live server reads committed rows

DELAY = 0.3


@pytest.fixture(autouse=True)
def _quick_simulator(settings):
    settings.MTN_SIMULATOR_CALLBACK_DELAY_SECONDS = DELAY
    settings.MTN_READ_TIMEOUT_PAYMENT = 1.0
    settings.MTN_SIMULATOR_SLOW_SECONDS = 2.5
    settings.MTN_RETRY_INITIAL_SECONDS = 0.05
    settings.MTN_RETRY_MAX_SECONDS = 0.1


@pytest.fixture
def adapter(live_server) -> MtnAdapter:
    config = {**settings.MTN["test"], "BASE_URL": f"{live_server.url}/sandbox/mtn"}
    return MtnAdapter(mode="test", config=config)


def _instruction(
    msisdn: str, operation: Operation = Operation.REQUEST_PAYMENT
) -> PaymentInstruction:
    return PaymentInstruction(
        reference=uuid.uuid4(),
        operation=operation,
        amount=Decimal("150.00"),
        currency="ZMW",
        msisdn=msisdn,
        external_id=f"order-{msisdn}",
        note="Order 1042",
    )


def _settle(adapter: MtnAdapter, sent: PaymentInstruction, within: float = 5.0) -> ProviderResult:
    """Poll the status, as the gateway's poller does, until it is final or time is up."""
    deadline = time.monotonic() + within
    while True:
        result = adapter.fetch_status(sent)
        if result.outcome is not Outcome.PENDING or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("msisdn", "failure_code"),
    [
        ("260960000001", FailureCode.PAYER_NOT_FOUND),
        ("260960000002", FailureCode.PAYER_DECLINED),
        ("260960000003", FailureCode.EXPIRED),
        ("260960000005", FailureCode.INSUFFICIENT_FUNDS),
        ("46733123450", FailureCode.PROVIDER_ERROR),  # MTN's "Failed"
        ("46733123451", FailureCode.PAYER_DECLINED),  # MTN's "Rejected"
        ("46733123452", FailureCode.EXPIRED),  # MTN's "Expired"
    ],
)
def test_failing_numbers_end_failed_with_their_code(adapter, msisdn, failure_code) -> None:
    sent = _instruction(msisdn)
    try:
        accepted = adapter.request_payment(sent)
    except PermanentError as rejected:  # an operator may also refuse synchronously
        assert rejected.failure_code is failure_code
        return

    assert accepted.outcome is Outcome.PENDING
    final = _settle(adapter, sent)
    assert (final.outcome, final.failure_code) == (Outcome.FAILED, failure_code)


@pytest.mark.parametrize("msisdn", ["260961234567", "260960000006", "56733123453"])
def test_succeeding_numbers_end_successful_with_a_transaction_id(adapter, msisdn) -> None:
    sent = _instruction(msisdn)

    assert adapter.request_payment(sent).outcome is Outcome.PENDING
    assert adapter.fetch_status(sent).outcome is Outcome.PENDING  # not before the delay

    final = _settle(adapter, sent)
    assert final.outcome is Outcome.SUCCESSFUL
    assert final.provider_transaction_id and final.provider_transaction_id.isdigit()


def test_pending_forever_number_stays_pending(adapter) -> None:
    sent = _instruction("260960000004")
    adapter.request_payment(sent)

    assert _settle(adapter, sent, within=4 * DELAY).outcome is Outcome.PENDING


def test_timeout_on_submit_is_outcome_unknown_then_successful_with_one_request(adapter) -> None:
    sent = _instruction("260960000007")

    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(sent)

    assert _settle(adapter, sent, within=8).outcome is Outcome.SUCCESSFUL
    assert MtnTransaction.objects.filter(reference_id=sent.reference).count() == 1


def test_500_on_first_attempt_is_retried_with_the_same_reference(adapter) -> None:
    sent = _instruction("260960000008")

    accepted = adapter.request_payment(sent)

    assert [call.status_code for call in accepted.calls] == [500, 202]
    assert _settle(adapter, sent).outcome is Outcome.SUCCESSFUL
    assert MtnTransaction.objects.filter(reference_id=sent.reference).count() == 1


def test_unavailable_number_is_retryable_provider_unavailable(adapter) -> None:
    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(_instruction("260960000009"))

    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE
    attempts = tuning(Provider.MTN, "RETRY_ATTEMPTS")
    assert [call.status_code for call in raised.value.calls] == [503] * attempts


def test_payout_to_a_number_without_funds_fails_insufficient_funds(adapter) -> None:
    sent = _instruction("260960000005", Operation.SEND_PAYOUT)

    assert adapter.send_payout(sent).outcome is Outcome.PENDING
    assert _settle(adapter, sent).failure_code is FailureCode.INSUFFICIENT_FUNDS


def test_payout_and_refund_succeed(adapter) -> None:
    collection = _instruction("260961234567")
    adapter.request_payment(collection)
    assert _settle(adapter, collection).outcome is Outcome.SUCCESSFUL
    payout = _instruction("260961234568", Operation.SEND_PAYOUT)
    refund = PaymentInstruction(
        reference=uuid.uuid4(),
        operation=Operation.REFUND,
        amount=Decimal("50"),
        currency="ZMW",
        msisdn="260961234567",
        external_id="refund-1",
        refund_of_reference=collection.reference,
    )

    adapter.send_payout(payout)
    adapter.refund(refund)

    assert _settle(adapter, payout).outcome is Outcome.SUCCESSFUL
    assert _settle(adapter, refund).outcome is Outcome.SUCCESSFUL


def test_reads_against_the_simulator(adapter) -> None:
    balance = adapter.balance()
    holder = adapter.account_holder("260961234567")
    unknown = adapter.account_holder("260960000001")

    assert balance.currency == "ZMW" and balance.available >= 0
    assert holder.active is True and holder.given_name
    assert unknown.active is False


def test_a_repeated_reference_is_accepted_once(adapter) -> None:
    sent = _instruction("260961234567")

    first, second = adapter.request_payment(sent), adapter.request_payment(sent)

    assert first.outcome is second.outcome is Outcome.PENDING
    assert second.calls[-1].status_code == 409
    assert MtnTransaction.objects.filter(reference_id=sent.reference).count() == 1


def test_pointed_at_a_sandbox_environment_the_adapter_sends_its_currency(live_server) -> None:
    # MTN's real sandbox accepts only EUR; the payment itself stays in ZMW.
    config = {
        **settings.MTN["test"],
        "BASE_URL": f"{live_server.url}/sandbox/mtn",
        "TARGET_ENVIRONMENT": "sandbox",
        "CURRENCY": "EUR",
    }
    adapter = MtnAdapter(mode="test", config=config)
    sent = _instruction("260961234567")

    assert adapter.request_payment(sent).outcome is Outcome.PENDING
    assert _settle(adapter, sent).outcome is Outcome.SUCCESSFUL
    assert MtnTransaction.objects.get(reference_id=sent.reference).currency == "EUR"

    in_zmw = MtnAdapter(mode="test", config={**config, "CURRENCY": ""})
    with pytest.raises(PermanentError):  # MTN's sandbox refuses ZMW: INVALID_CURRENCY
        in_zmw.request_payment(_instruction("260961234567"))
