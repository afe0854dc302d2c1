"""Contract tests of the Zamtel adapter against our assumed Zamtel contract (`responses`).

The failure-code table is exercised from the table itself and from hand-written expectations
(so that a wrong row fails)."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses

from providers.base import (
    ConfigurationError,
    FailureCode,
    Operation,
    Outcome,
    OutcomeUnknownError,
    PaymentInstruction,
    PermanentError,
    ProviderUnavailable,
    RetryableError,
)
from providers.zamtel import codes, signing
from providers.zamtel.adapter import ZamtelAdapter
from tests.providers.zamtel.conftest import SECRET, TOKEN, config

BASE = "http://127.0.0.1:1/zamtel"  # never reached: `responses` answers every call
DEPOSITS, PAYOUTS, REFUNDS = f"{BASE}/v2/deposits", f"{BASE}/v2/payouts", f"{BASE}/v2/refunds"

pytestmark = pytest.mark.django_db  # breaker state changes are shared through the cache


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.ZAMTEL_RETRY_INITIAL_SECONDS = 0
    settings.ZAMTEL_RETRY_MAX_SECONDS = 0
    settings.ZAMTEL_RETRY_ATTEMPTS = 3
    settings.ZAMTEL_BREAKER_FAIL_MAX = 5
    settings.ZAMTEL_BREAKER_RESET_SECONDS = 30


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        yield fake


@pytest.fixture
def adapter() -> ZamtelAdapter:
    return ZamtelAdapter(mode="test", config=config(BASE))


def instruction(operation: Operation = Operation.REQUEST_PAYMENT, **changes) -> PaymentInstruction:
    fields = {
        "reference": uuid.uuid4(),
        "operation": operation,
        "amount": Decimal("150"),
        "currency": "ZMW",
        "msisdn": "260951234567",
        "external_id": "order-1042",
        "note": "Mwape's order #1042",
        "callback_url": "https://pay.example.zm/api/v1/webhooks/zamtel/tok123",
        **changes,
    }
    return PaymentInstruction(**fields)


def calls_to(fake, url: str) -> list:
    return [call for call in fake.calls if call.request.url == url]


def accepted(ident: str = "x") -> dict[str, Any]:
    return {"depositId": ident, "status": "ACCEPTED", "created": "2026-12-01T10:00:00Z"}


def found(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": "FOUND", "data": {"status": status, "amount": "150.00", **extra}}


# --- every operation --------------------------------------------------------------------------


def test_deposit_sends_the_contracts_headers_and_body_and_is_pending(mocked, adapter) -> None:
    mocked.post(DEPOSITS, json=accepted())
    sent = instruction(amount=Decimal("150.5"))

    result = adapter.request_payment(sent)

    assert result.outcome is Outcome.PENDING
    [call] = calls_to(mocked, DEPOSITS)
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["Content-Type"] == "application/json"
    assert json.loads(call.request.body) == {
        "depositId": str(sent.reference),
        "amount": "150.50",
        "currency": "ZMW",
        "payer": {
            "type": "MMO",
            "accountDetails": {"phoneNumber": "260951234567", "provider": "ZAMTEL_ZMB"},
        },
        "clientReferenceId": "order-1042",
        "customerMessage": "Mwapes order 1042",
        "callbackUrl": sent.callback_url,
    }


def test_payout_names_the_recipient(mocked, adapter) -> None:
    mocked.post(PAYOUTS, json={"payoutId": "x", "status": "ACCEPTED"})
    sent = instruction(Operation.SEND_PAYOUT, note="")

    assert adapter.send_payout(sent).outcome is Outcome.PENDING
    body = json.loads(calls_to(mocked, PAYOUTS)[0].request.body)
    assert body["payoutId"] == str(sent.reference)
    assert body["recipient"]["accountDetails"]["phoneNumber"] == "260951234567"
    assert "payer" not in body and "customerMessage" not in body


def test_refund_names_the_deposit_and_the_amount(mocked, adapter) -> None:
    mocked.post(REFUNDS, json={"refundId": "x", "status": "ACCEPTED"})
    original = uuid.uuid4()
    sent = instruction(Operation.REFUND, refund_of_reference=original, amount=Decimal("50"))

    assert adapter.refund(sent).outcome is Outcome.PENDING
    body = json.loads(calls_to(mocked, REFUNDS)[0].request.body)
    assert body == {
        "refundId": str(sent.reference),
        "amount": "50.00",
        "currency": "ZMW",
        "depositId": str(original),
        "callbackUrl": sent.callback_url,
    }
    with pytest.raises(PermanentError):
        adapter.refund(instruction(Operation.REFUND))


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        (Operation.REQUEST_PAYMENT, "/v2/deposits"),
        (Operation.SEND_PAYOUT, "/v2/payouts"),
        (Operation.REFUND, "/v2/refunds"),
    ],
)
def test_status_paths_name_our_id(mocked, adapter, operation, path) -> None:
    sent = instruction(operation)
    url = f"{BASE}{path}/{sent.reference}"
    mocked.get(url, json=found("COMPLETED", providerTransactionId="ZT1"))

    result = adapter.fetch_status(sent)

    assert (result.outcome, result.provider_transaction_id) == (Outcome.SUCCESSFUL, "ZT1")
    assert len(calls_to(mocked, url)) == 1


def test_balance_and_account_holder(mocked, adapter) -> None:
    mocked.get(
        f"{BASE}/v2/wallet-balances",
        json={"balances": [{"country": "ZMB", "currency": "ZMW", "balance": "1000.50"}]},
    )
    mocked.get(
        f"{BASE}/v2/accounts/260951234567?provider=ZAMTEL_ZMB",
        json={"status": "FOUND", "data": {"active": True}},
    )
    mocked.get(f"{BASE}/v2/accounts/260950000001?provider=ZAMTEL_ZMB", json={"status": "NOT_FOUND"})

    balance = adapter.balance()

    assert (balance.available, balance.currency) == (Decimal("1000.50"), "ZMW")
    assert adapter.account_holder("260951234567").active is True
    holder = adapter.account_holder("260950000001")
    assert (holder.active, holder.given_name) == (False, None)


def test_a_balance_in_another_currency_is_refused(mocked, adapter) -> None:
    mocked.get(f"{BASE}/v2/wallet-balances", json={"balances": [{"currency": "USD"}]})

    with pytest.raises(PermanentError):
        adapter.balance()


# --- initiation answers and the code table ----------------------------------------------------


def test_duplicate_ignored_means_an_earlier_attempt_arrived(mocked, adapter) -> None:
    mocked.post(DEPOSITS, json={"depositId": "x", "status": "DUPLICATE_IGNORED"})

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING
    assert len(calls_to(mocked, DEPOSITS)) == 1


def test_409_is_an_earlier_attempt_too(mocked, adapter) -> None:
    mocked.post(DEPOSITS, status=409, json={})

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING


@pytest.mark.parametrize(("code", "failure_code"), sorted(codes.FAILURE_CODES.items()))
def test_every_rejection_code_in_the_table_fails_with_its_failure_code(
    mocked, adapter, code, failure_code
) -> None:
    mocked.post(
        DEPOSITS,
        json={
            "depositId": "x",
            "status": "REJECTED",
            "failureReason": {"failureCode": code, "failureMessage": "m"},
        },
    )

    with pytest.raises(PermanentError) as raised:
        adapter.request_payment(instruction())

    assert raised.value.failure_code is failure_code
    assert len(calls_to(mocked, DEPOSITS)) == 1


@pytest.mark.parametrize(("code", "failure_code"), sorted(codes.FAILURE_CODES.items()))
def test_every_failure_code_in_the_table_on_an_enquiry(mocked, adapter, code, failure_code) -> None:
    sent = instruction()
    mocked.get(
        f"{DEPOSITS}/{sent.reference}",
        json=found("FAILED", failureReason={"failureCode": code, "failureMessage": "why"}),
    )

    result = adapter.fetch_status(sent)

    assert (result.outcome, result.failure_code) == (Outcome.FAILED, failure_code)
    assert result.failure_message == "why"


# Written from the contract's failure codes and our mapping, not copied from codes.py.
EXPECTED = {
    "PAYER_NOT_FOUND": FailureCode.PAYER_NOT_FOUND,
    "RECIPIENT_NOT_FOUND": FailureCode.PAYER_NOT_FOUND,
    "PAYMENT_NOT_APPROVED": FailureCode.PAYER_DECLINED,
    "PAYMENT_EXPIRED": FailureCode.EXPIRED,
    "INSUFFICIENT_BALANCE": FailureCode.INSUFFICIENT_FUNDS,
    "PAYER_LIMIT_REACHED": FailureCode.LIMIT_EXCEEDED,
    "AMOUNT_TOO_SMALL": FailureCode.LIMIT_EXCEEDED,
    "AMOUNT_TOO_LARGE": FailureCode.LIMIT_EXCEEDED,
    "INVALID_PAYER_FORMAT": FailureCode.INVALID_MSISDN,
    "INVALID_RECIPIENT_FORMAT": FailureCode.INVALID_MSISDN,
    "DEPOSITS_NOT_ALLOWED": FailureCode.NOT_ALLOWED,
    "PAYOUTS_NOT_ALLOWED": FailureCode.NOT_ALLOWED,
    "INVALID_CURRENCY": FailureCode.PROVIDER_ERROR,
    "INVALID_AMOUNT": FailureCode.PROVIDER_ERROR,
    "PARAMETER_INVALID": FailureCode.PROVIDER_ERROR,
    "UNSPECIFIED_FAILURE": FailureCode.PROVIDER_ERROR,
    "OTHER_ERROR": FailureCode.PROVIDER_ERROR,
}


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED.items()))
def test_the_table_maps_representative_codes_as_intended(code, expected) -> None:
    assert code in codes.FAILURE_CODES, f"{code} is not in the table"
    assert codes.failure_code(code) is expected


def test_an_unknown_code_is_the_operators_error_not_silence() -> None:
    assert codes.failure_code("SOMETHING_NEW") is FailureCode.PROVIDER_ERROR
    assert codes.failure_code(None) is FailureCode.PROVIDER_ERROR


def test_a_400_is_permanent_with_its_code(mocked, adapter) -> None:
    mocked.post(
        DEPOSITS,
        status=400,
        json={"failureReason": {"failureCode": "INVALID_INPUT", "failureMessage": "bad"}},
    )

    with pytest.raises(PermanentError) as raised:
        adapter.request_payment(instruction())
    assert raised.value.failure_code is FailureCode.PROVIDER_ERROR


def test_the_older_rejection_reason_name_is_read(mocked, adapter) -> None:
    mocked.post(
        DEPOSITS,
        json={"status": "REJECTED", "rejectionReason": {"rejectionCode": "INVALID_PAYER_FORMAT"}},
    )

    with pytest.raises(PermanentError) as raised:
        adapter.request_payment(instruction())
    assert raised.value.failure_code is FailureCode.INVALID_MSISDN


def test_an_answer_without_a_status_is_outcome_unknown(mocked, adapter) -> None:
    mocked.post(DEPOSITS, body="<html>gateway</html>")

    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction())
    assert len(calls_to(mocked, DEPOSITS)) == 1


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("ACCEPTED", Outcome.PENDING),
        ("ENQUEUED", Outcome.PENDING),
        ("SUBMITTED", Outcome.PENDING),
        ("PROCESSING", Outcome.PENDING),
        ("IN_RECONCILIATION", Outcome.PENDING),
        ("SOMETHING_NEW", Outcome.PENDING),
        ("COMPLETED", Outcome.SUCCESSFUL),
        ("FAILED", Outcome.FAILED),
    ],
)
def test_enquiry_statuses(mocked, adapter, status, outcome) -> None:
    sent = instruction()
    mocked.get(f"{DEPOSITS}/{sent.reference}", json=found(status))

    assert adapter.fetch_status(sent).outcome is outcome


def test_a_failed_status_without_a_reason_is_the_operators_error(mocked, adapter) -> None:
    sent = instruction()
    mocked.get(f"{DEPOSITS}/{sent.reference}", json=found("FAILED"))

    result = adapter.fetch_status(sent)
    assert (result.outcome, result.failure_code) == (Outcome.FAILED, FailureCode.PROVIDER_ERROR)


@pytest.mark.parametrize(
    "answer", [{"status": 404, "json": {}}, {"status": 200, "json": {"status": "NOT_FOUND"}}]
)
def test_not_found_on_an_enquiry_is_outcome_unknown_never_a_failure(
    mocked, adapter, answer
) -> None:
    sent = instruction()
    mocked.get(f"{DEPOSITS}/{sent.reference}", **answer)

    with pytest.raises(OutcomeUnknownError):
        adapter.fetch_status(sent)


# --- timeouts and transport failures ----------------------------------------------------------


@pytest.mark.parametrize(
    "error", [requests.ConnectTimeout(), requests.ConnectionError("Connection refused")]
)
def test_connection_failures_are_retried_with_the_same_id(mocked, adapter, error) -> None:
    mocked.post(DEPOSITS, body=error)
    sent = instruction()

    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(sent)

    attempts = calls_to(mocked, DEPOSITS)
    assert len(attempts) == 3
    assert {json.loads(a.request.body)["depositId"] for a in attempts} == {str(sent.reference)}
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE


def test_read_timeout_on_a_money_post_is_outcome_unknown_then_enquired_with_the_same_id(
    mocked, adapter
) -> None:
    mocked.post(PAYOUTS, body=requests.ReadTimeout())
    sent = instruction(Operation.SEND_PAYOUT)
    mocked.get(f"{PAYOUTS}/{sent.reference}", json=found("COMPLETED"))

    with pytest.raises(OutcomeUnknownError) as raised:
        adapter.send_payout(sent)

    assert len(calls_to(mocked, PAYOUTS)) == 1  # never resent
    assert raised.value.calls[0].error == "read_timeout"
    assert adapter.fetch_status(sent).outcome is Outcome.SUCCESSFUL


@pytest.mark.parametrize("status", [500, 502, 408])
def test_5xx_and_408_on_a_money_post_are_outcome_unknown(mocked, adapter, status) -> None:
    mocked.post(DEPOSITS, status=status, json={})

    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction())
    assert len(calls_to(mocked, DEPOSITS)) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retried(mocked, adapter, status) -> None:
    mocked.post(DEPOSITS, status=status, json={})
    mocked.post(DEPOSITS, json=accepted())

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING
    assert [c.response.status_code for c in calls_to(mocked, DEPOSITS)] == [status, 200]


def test_read_timeout_on_an_enquiry_is_retried(mocked, adapter) -> None:
    sent = instruction()
    url = f"{DEPOSITS}/{sent.reference}"
    mocked.get(url, body=requests.ReadTimeout())
    mocked.get(url, json=found("PROCESSING"))

    assert adapter.fetch_status(sent).outcome is Outcome.PENDING
    assert len(calls_to(mocked, url)) == 2


def test_each_kind_of_call_has_its_own_timeouts(mocked, adapter, settings) -> None:
    settings.ZAMTEL_CONNECT_TIMEOUT = 2.5
    settings.ZAMTEL_READ_TIMEOUT_PAYMENT = 20.0
    settings.ZAMTEL_READ_TIMEOUT_STATUS = 4.0
    sent = instruction()
    mocked.post(DEPOSITS, json=accepted())
    mocked.get(f"{DEPOSITS}/{sent.reference}", json=found("PROCESSING"))

    adapter.request_payment(sent)
    adapter.fetch_status(sent)

    timeouts = {call.request.url: call.request.req_kwargs["timeout"] for call in mocked.calls}
    assert timeouts[DEPOSITS] == (2.5, 20.0)
    assert timeouts[f"{DEPOSITS}/{sent.reference}"] == (2.5, 4.0)


# --- the breaker ------------------------------------------------------------------------------


def _trip(mocked, adapter) -> None:
    mocked.post(DEPOSITS, status=503, json={})
    for _ in range(2):
        with pytest.raises(RetryableError):
            adapter.request_payment(instruction())


def test_breaker_opens_then_fails_fast(mocked, adapter) -> None:
    _trip(mocked, adapter)
    sent_before = len(calls_to(mocked, DEPOSITS))

    with pytest.raises(ProviderUnavailable) as raised:
        adapter.request_payment(instruction())

    assert adapter.breaker_state() == "open"
    assert len(calls_to(mocked, DEPOSITS)) == sent_before
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE


def test_breaker_half_open_probe_closes_on_success(mocked, adapter) -> None:
    _trip(mocked, adapter)
    adapter.breaker._opened -= 31
    assert adapter.breaker_state() == "half_open"
    mocked.replace(responses.POST, DEPOSITS, json=accepted())

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING
    assert adapter.breaker_state() == "closed"


def test_breaker_half_open_probe_that_fails_opens_again(mocked, adapter) -> None:
    _trip(mocked, adapter)
    adapter.breaker._opened -= 31
    sent_before = len(calls_to(mocked, DEPOSITS))

    with pytest.raises(RetryableError):
        adapter.request_payment(instruction())

    assert adapter.breaker_state() == "open"
    assert len(calls_to(mocked, DEPOSITS)) == sent_before + 1


def test_business_refusals_do_not_open_the_breaker(mocked, adapter) -> None:
    mocked.post(
        DEPOSITS, json={"status": "REJECTED", "failureReason": {"failureCode": "INVALID_AMOUNT"}}
    )
    for _ in range(8):
        with pytest.raises(PermanentError):
            adapter.request_payment(instruction())

    assert adapter.breaker_state() == "closed"


# --- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_retryable_provider_unavailable(mocked, adapter, status) -> None:
    mocked.post(DEPOSITS, status=status, json={"failureReason": {"failureCode": "AUTH"}})

    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(instruction())
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE


@pytest.mark.parametrize("missing", ["API_TOKEN", "BASE_URL"])
def test_missing_configuration_is_a_configuration_error(mocked, missing) -> None:
    adapter = ZamtelAdapter(mode="live", config=config(BASE, **{missing: ""}))

    with pytest.raises(ConfigurationError):
        adapter.request_payment(instruction())
    assert not mocked.calls


def test_recorded_calls_never_hold_the_token_and_urls_carry_no_credential(mocked, adapter) -> None:
    mocked.post(DEPOSITS, status=503, json={})
    mocked.post(DEPOSITS, json=accepted())
    sent = instruction()
    mocked.get(f"{DEPOSITS}/{sent.reference}", json=found("PROCESSING"))

    result = adapter.request_payment(sent)
    status = adapter.fetch_status(sent)

    recorded = repr(result.calls) + repr(status.calls)
    assert TOKEN not in recorded
    assert result.calls[0].request_headers["Authorization"] == "[redacted]"
    for call in mocked.calls:
        assert TOKEN not in call.request.url


# --- callbacks --------------------------------------------------------------------------------


def _callback(reference: uuid.UUID, status: str = "COMPLETED", **extra: Any) -> bytes:
    return json.dumps(
        {
            "depositId": str(reference),
            "status": status,
            "amount": "150.00",
            "currency": "ZMW",
            "clientReferenceId": "order-1042",
            **extra,
        }
    ).encode()


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("COMPLETED", Outcome.SUCCESSFUL), ("FAILED", Outcome.FAILED), ("ACCEPTED", Outcome.PENDING)],
)
def test_parse_callback_is_a_hint_and_names_our_reference(adapter, status, outcome) -> None:
    reference = uuid.uuid4()
    body = _callback(reference, status, providerTransactionId="ZT1")

    hint = adapter.parse_callback(body)

    assert hint.claimed_outcome is outcome
    assert hint.external_id == "order-1042"
    assert ZamtelAdapter.callback_reference(body) == reference


@pytest.mark.parametrize(
    "body", [b"<html>", b"[]", b"\xff", b'{"x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"]
)
def test_unusable_callbacks_are_permanent(adapter, body) -> None:
    with pytest.raises(PermanentError):
        adapter.parse_callback(body)
    assert ZamtelAdapter.callback_reference(body) is None


def test_callbacks_are_verified_by_their_signature(adapter) -> None:
    body = _callback(uuid.uuid4())
    headers = signing.sign(SECRET, body)

    assert adapter.verify_callback(headers, body) is True
    assert adapter.verify_callback({}, body) is False
    assert adapter.verify_callback(signing.sign("other-secret", body), body) is False
    tampered = body.replace(b"COMPLETED", b"FAILED")
    assert adapter.verify_callback(headers, tampered) is False  # the digest no longer matches
    re_digested = {**headers, "Content-Digest": signing.content_digest(tampered)}
    assert adapter.verify_callback(re_digested, tampered) is False  # the signature does not
    old = signing.sign(SECRET, body, created=int(time.time()) - 3600)
    assert adapter.verify_callback(old, body) is False  # a replay


def test_without_a_secret_there_is_nothing_to_verify() -> None:
    adapter = ZamtelAdapter(mode="test", config=config(BASE, CALLBACK_SECRET=""))

    assert adapter.verify_callback({}, _callback(uuid.uuid4())) is None
