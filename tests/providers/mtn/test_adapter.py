"""Contract tests of the MTN adapter against MTN's documented HTTP behaviour (`responses`)."""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers

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
from providers.mtn.adapter import MtnAdapter
from tests.providers.mtn.fake import mtn_with_tokens

BASE = "http://127.0.0.1:1/mtn"  # never reached: `responses` answers every call
CONFIG = {
    "BASE_URL": BASE,
    "TARGET_ENVIRONMENT": "mtnzambia",
    "COLLECTION_SUBSCRIPTION_KEY": "coll-sub-key",
    "DISBURSEMENT_SUBSCRIPTION_KEY": "disb-sub-key",
    "API_USER": "2f5e4a4e-7c1f-4d3b-9b5c-0e0b7a9d1a11",
    "API_KEY": "api-key-secret",
    "CALLBACK_HOST": "pay.example.zm",
    "CURRENCY": "ZMW",
}
RTP = f"{BASE}/collection/v1_0/requesttopay"
TRANSFER = f"{BASE}/disbursement/v1_0/transfer"
REFUND = f"{BASE}/disbursement/v1_0/refund"

pytestmark = pytest.mark.django_db  # breaker state changes are shared through the cache


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.MTN_RETRY_INITIAL_SECONDS = 0
    settings.MTN_RETRY_MAX_SECONDS = 0
    settings.MTN_RETRY_ATTEMPTS = 3
    settings.MTN_BREAKER_FAIL_MAX = 5
    settings.MTN_BREAKER_RESET_SECONDS = 30


@pytest.fixture
def mocked():
    with mtn_with_tokens(BASE) as fake:
        yield fake


@pytest.fixture
def adapter() -> MtnAdapter:
    return MtnAdapter(mode="test", config=dict(CONFIG))


def instruction(operation: Operation = Operation.REQUEST_PAYMENT, **changes) -> PaymentInstruction:
    fields = {
        "reference": uuid.uuid4(),
        "operation": operation,
        "amount": Decimal("150.00"),
        "currency": "ZMW",
        "msisdn": "260961234567",
        "external_id": "order-1042",
        "note": "Order 1042",
        "callback_url": "https://pay.example.zm/api/v1/webhooks/mtn/tok123",
        **changes,
    }
    return PaymentInstruction(**fields)


def calls_to(rsps, url: str) -> list:
    return [call for call in rsps.calls if call.request.url == url]


def test_request_payment_sends_mtns_headers_and_body_and_is_pending_on_202(mocked, adapter) -> None:
    mocked.post(RTP, status=202)
    sent = instruction(note="Mwape's order #1042")

    result = adapter.request_payment(sent)

    assert result.outcome is Outcome.PENDING
    [call] = calls_to(mocked, RTP)
    headers = call.request.headers
    assert headers["Authorization"] == "Bearer token-collection"
    assert headers["Ocp-Apim-Subscription-Key"] == "coll-sub-key"
    assert headers["X-Reference-Id"] == str(sent.reference)
    assert headers["X-Target-Environment"] == "mtnzambia"
    assert headers["X-Callback-Url"] == sent.callback_url
    assert headers["Content-Type"] == "application/json"
    assert json.loads(call.request.body) == {
        "amount": "150",
        "currency": "ZMW",
        "externalId": "order-1042",
        "payer": {"partyIdType": "MSISDN", "partyId": "260961234567"},
        "payerMessage": "Mwapes order #1042",  # MTN refuses apostrophes
        "payeeNote": "Mwapes order #1042",
    }


def test_token_is_fetched_with_basic_auth_and_no_body_then_reused(mocked, adapter) -> None:
    mocked.post(RTP, status=202)

    adapter.request_payment(instruction())
    adapter.request_payment(instruction())

    [token_call] = calls_to(mocked, f"{BASE}/collection/token/")
    expected = base64.b64encode(f"{CONFIG['API_USER']}:{CONFIG['API_KEY']}".encode()).decode()
    assert token_call.request.headers["Authorization"] == f"Basic {expected}"
    assert token_call.request.headers["Ocp-Apim-Subscription-Key"] == "coll-sub-key"
    assert token_call.request.headers["Content-Length"] == "0"
    assert not token_call.request.body


def test_token_is_renewed_before_it_expires(mocked, adapter) -> None:
    mocked.post(RTP, status=202)
    adapter.request_payment(instruction())

    adapter.client._tokens["collection"].refresh_at = 0  # as if 50 of its 60 minutes had passed
    adapter.request_payment(instruction())

    assert len(calls_to(mocked, f"{BASE}/collection/token/")) == 2


def test_401_on_a_product_call_fetches_a_new_token_once(mocked, adapter) -> None:
    mocked.post(RTP, status=401, json={"statusCode": 401, "message": "Access token expired"})
    mocked.post(RTP, status=202)

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING
    assert len(calls_to(mocked, f"{BASE}/collection/token/")) == 2


def test_amounts_are_strings_with_at_most_two_decimals(mocked, adapter) -> None:
    mocked.post(RTP, status=202)

    adapter.request_payment(instruction(amount=Decimal("150.5")))

    assert json.loads(calls_to(mocked, RTP)[0].request.body)["amount"] == "150.50"


def test_409_means_already_accepted_not_failed(mocked, adapter) -> None:
    mocked.post(
        RTP,
        status=409,
        json={"code": "RESOURCE_ALREADY_EXIST", "message": "Duplicated reference id."},
    )

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING


def test_500_then_202_retries_with_the_same_reference(mocked, adapter) -> None:
    mocked.post(RTP, status=500, json={"code": "INTERNAL_PROCESSING_ERROR", "message": "x"})
    mocked.post(RTP, status=202)
    sent = instruction()

    result = adapter.request_payment(sent)

    attempts = calls_to(mocked, RTP)
    assert result.outcome is Outcome.PENDING
    assert [a.request.headers["X-Reference-Id"] for a in attempts] == [str(sent.reference)] * 2
    assert [c.status_code for c in result.calls] == [500, 202]


def test_503_everywhere_is_retryable_provider_unavailable_after_bounded_attempts(
    mocked, adapter
) -> None:
    mocked.post(RTP, status=503, json={"code": "SERVICE_UNAVAILABLE", "message": "down"})

    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(instruction())

    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE
    assert len(calls_to(mocked, RTP)) == 3
    assert [c.status_code for c in raised.value.calls] == [503, 503, 503]


def test_business_rejection_is_permanent_and_not_retried(mocked, adapter) -> None:
    mocked.post(RTP, status=500, json={"code": "PAYER_NOT_FOUND", "message": "Payer not found"})

    with pytest.raises(PermanentError) as raised:
        adapter.request_payment(instruction())

    assert raised.value.failure_code is FailureCode.PAYER_NOT_FOUND
    assert len(calls_to(mocked, RTP)) == 1


def test_400_is_permanent(mocked, adapter) -> None:
    mocked.post(RTP, status=400, json={"code": "VALIDATION_ERROR", "message": "Bad amount"})

    with pytest.raises(PermanentError) as raised:
        adapter.request_payment(instruction())

    assert raised.value.failure_code is FailureCode.PROVIDER_ERROR


def test_invalid_party_is_invalid_msisdn(mocked, adapter) -> None:
    mocked.post(RTP, status=400, json={"code": "VALIDATION_ERROR", "message": "Invalid partyId"})

    with pytest.raises(PermanentError) as raised:
        adapter.request_payment(instruction())

    assert raised.value.failure_code is FailureCode.INVALID_MSISDN


@pytest.mark.parametrize(
    "error", [requests.ConnectTimeout(), requests.ConnectionError("Connection refused")]
)
def test_connection_failures_are_retried_then_retryable(mocked, adapter, error) -> None:
    mocked.post(RTP, body=error)

    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(instruction())

    assert len(calls_to(mocked, RTP)) == 3
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE


def test_read_timeout_on_a_money_post_is_outcome_unknown_and_never_resent(mocked, adapter) -> None:
    mocked.post(RTP, body=requests.ReadTimeout())

    with pytest.raises(OutcomeUnknownError) as raised:
        adapter.request_payment(instruction())

    assert len(calls_to(mocked, RTP)) == 1
    assert raised.value.calls[0].error == "read_timeout"


def test_read_timeout_on_a_status_read_is_retried(mocked, adapter) -> None:
    sent = instruction()
    mocked.get(f"{RTP}/{sent.reference}", body=requests.ReadTimeout())
    mocked.get(f"{RTP}/{sent.reference}", json={"status": "PENDING"})

    assert adapter.fetch_status(sent).outcome is Outcome.PENDING
    assert len(calls_to(mocked, f"{RTP}/{sent.reference}")) == 2


def test_status_successful_carries_the_financial_transaction_id(mocked, adapter) -> None:
    sent = instruction()
    mocked.get(
        f"{RTP}/{sent.reference}",
        json={
            "amount": "150",
            "currency": "ZMW",
            "financialTransactionId": "600198217",
            "status": "SUCCESSFUL",
        },
        match=[matchers.header_matcher({"X-Target-Environment": "mtnzambia"})],
    )

    result = adapter.fetch_status(sent)

    assert result.outcome is Outcome.SUCCESSFUL
    assert result.provider_transaction_id == "600198217"


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("APPROVAL_REJECTED", FailureCode.PAYER_DECLINED),
        ("EXPIRED", FailureCode.EXPIRED),
        ("NOT_ENOUGH_FUNDS", FailureCode.INSUFFICIENT_FUNDS),
        ("PAYER_NOT_FOUND", FailureCode.PAYER_NOT_FOUND),
        ("COULD_NOT_PERFORM_TRANSACTION", FailureCode.EXPIRED),
        ("INTERNAL_PROCESSING_ERROR", FailureCode.PROVIDER_ERROR),
        (
            {"code": "PAYER_LIMIT_REACHED", "message": "old swagger shape"},
            FailureCode.LIMIT_EXCEEDED,
        ),
        ("SOMETHING_NEW", FailureCode.PROVIDER_ERROR),
    ],
)
def test_status_failed_maps_the_reason(mocked, adapter, reason, code) -> None:
    sent = instruction()
    mocked.get(f"{RTP}/{sent.reference}", json={"status": "FAILED", "reason": reason})

    result = adapter.fetch_status(sent)

    assert result.outcome is Outcome.FAILED
    assert result.failure_code is code


@pytest.mark.parametrize("status", ["PENDING", "CREATED"])
def test_status_not_final_is_pending(mocked, adapter, status) -> None:
    sent = instruction()
    mocked.get(f"{RTP}/{sent.reference}", json={"status": status})

    assert adapter.fetch_status(sent).outcome is Outcome.PENDING


def test_status_404_is_outcome_unknown_not_failure(mocked, adapter) -> None:
    sent = instruction()
    mocked.get(
        f"{RTP}/{sent.reference}", status=404, json={"code": "RESOURCE_NOT_FOUND", "message": "x"}
    )

    with pytest.raises(OutcomeUnknownError):
        adapter.fetch_status(sent)


def test_payout_uses_transfer_with_payee_and_the_disbursement_token(mocked, adapter) -> None:
    mocked.post(TRANSFER, status=202)
    sent = instruction(Operation.SEND_PAYOUT)
    mocked.get(
        f"{TRANSFER}/{sent.reference}", json={"status": "FAILED", "reason": "NOT_ENOUGH_FUNDS"}
    )

    assert adapter.send_payout(sent).outcome is Outcome.PENDING
    status = adapter.fetch_status(sent)

    [call] = calls_to(mocked, TRANSFER)
    assert call.request.headers["Authorization"] == "Bearer token-disbursement"
    assert call.request.headers["Ocp-Apim-Subscription-Key"] == "disb-sub-key"
    assert json.loads(call.request.body)["payee"] == {
        "partyIdType": "MSISDN",
        "partyId": "260961234567",
    }
    assert status.failure_code is FailureCode.INSUFFICIENT_FUNDS


def test_refund_names_the_original_reference(mocked, adapter) -> None:
    mocked.post(REFUND, status=202)
    original = uuid.uuid4()

    adapter.refund(
        instruction(Operation.REFUND, refund_of_reference=original, amount=Decimal("50"))
    )

    body = json.loads(calls_to(mocked, REFUND)[0].request.body)
    assert body["referenceIdToRefund"] == str(original)
    assert body["amount"] == "50"


def test_balance_and_account_holder(mocked, adapter) -> None:
    mocked.get(
        f"{BASE}/collection/v1_0/account/balance",
        json={"availableBalance": "1000.50", "currency": "ZMW"},
    )
    holder = f"{BASE}/collection/v1_0/accountholder/msisdn/260961234567"
    mocked.get(f"{holder}/active", json={"result": True})
    mocked.get(f"{holder}/basicuserinfo", json={"given_name": "Mwape", "family_name": "Banda"})
    mocked.get(
        f"{BASE}/collection/v1_0/accountholder/msisdn/260960000001/active", json={"result": False}
    )

    balance = adapter.balance()
    active = adapter.account_holder("260961234567")
    inactive = adapter.account_holder("260960000001")

    assert (balance.available, balance.currency) == (Decimal("1000.50"), "ZMW")
    assert (active.active, active.given_name, active.family_name) == (True, "Mwape", "Banda")
    assert inactive.active is False and inactive.given_name is None


def test_parse_callback_is_only_a_hint() -> None:
    hint = MtnAdapter(mode="test", config=dict(CONFIG)).parse_callback(
        json.dumps(
            {
                "externalId": "order-1042",
                "amount": "150",
                "currency": "ZMW",
                "status": "FAILED",
                "reason": "APPROVAL_REJECTED",
            }
        ).encode()
    )

    assert hint.claimed_outcome is Outcome.FAILED
    assert hint.external_id == "order-1042"
    assert hint.reason == "APPROVAL_REJECTED"
    with pytest.raises(PermanentError):
        MtnAdapter(mode="test", config=dict(CONFIG)).parse_callback(b"<html>")


@pytest.mark.parametrize(
    "body",
    [
        b'{"status": "SUCCESSFUL", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        b'{"status": "SUCCESSFUL", "externalId": "order\\u0000"}',
        b'{"status": "SUCCESSFUL", "externalId": "\\udfff"}',
        b"\xff\xfe",
    ],
    ids=["20000-deep", "nul", "lone-surrogate", "not-utf8"],
)
def test_parse_callback_refuses_hostile_json_as_permanent(body: bytes) -> None:
    with pytest.raises(PermanentError, match="not acceptable JSON"):
        MtnAdapter(mode="test", config=dict(CONFIG)).parse_callback(body)


def test_breaker_opens_after_consecutive_failures_then_fails_fast(
    mocked, adapter, settings
) -> None:
    mocked.post(RTP, status=503, json={"code": "SERVICE_UNAVAILABLE", "message": "down"})
    for _ in range(2):  # 2 calls x 3 attempts = 6 failures >= 5
        with pytest.raises(RetryableError):
            adapter.request_payment(instruction())
    sent_before = len(calls_to(mocked, RTP))

    with pytest.raises(ProviderUnavailable) as raised:
        adapter.request_payment(instruction())

    assert adapter.breaker_state() == "open"
    assert len(calls_to(mocked, RTP)) == sent_before  # failed fast: nothing sent
    assert raised.value.retry_after is not None and 1 <= raised.value.retry_after <= 30
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE


def test_breaker_probes_after_the_cool_down_and_closes_on_success(mocked, adapter) -> None:
    mocked.post(RTP, status=503, json={"code": "SERVICE_UNAVAILABLE", "message": "down"})
    for _ in range(2):
        with pytest.raises(RetryableError):
            adapter.request_payment(instruction())
    assert adapter.breaker_state() == "open"
    adapter.breaker._opened -= 31  # the cool-down has passed
    assert adapter.breaker_state() == "half_open"
    mocked.replace(responses.POST, RTP, status=202)

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING
    assert adapter.breaker_state() == "closed"


def test_business_rejections_do_not_open_the_breaker(mocked, adapter) -> None:
    mocked.post(RTP, status=500, json={"code": "PAYER_NOT_FOUND", "message": "x"})
    for _ in range(8):
        with pytest.raises(PermanentError):
            adapter.request_payment(instruction())

    assert adapter.breaker_state() == "closed"


def test_recorded_calls_never_hold_secrets(mocked, adapter) -> None:
    mocked.post(RTP, status=500, json={"code": "INTERNAL_PROCESSING_ERROR"})
    mocked.post(RTP, status=202)

    result = adapter.request_payment(instruction())

    recorded = repr(result.calls)
    for secret in ("coll-sub-key", "api-key-secret", "token-collection", CONFIG["API_USER"]):
        assert secret not in recorded
    assert result.calls[0].request_headers["Authorization"] == "[redacted]"


def test_missing_credentials_are_a_configuration_error(mocked) -> None:
    adapter = MtnAdapter(mode="live", config={**CONFIG, "API_KEY": ""})

    with pytest.raises(ConfigurationError):
        adapter.request_payment(instruction())
    assert not mocked.calls


def test_breaker_changes_are_visible_to_other_processes_through_health(
    mocked, adapter, client
) -> None:
    mocked.post(RTP, status=503, json={"code": "SERVICE_UNAVAILABLE", "message": "down"})
    for _ in range(2):
        with pytest.raises(RetryableError):
            adapter.request_payment(instruction())

    providers = client.get("/health/ready").json()["providers"]

    assert providers["mtn"] == {"test": "open", "live": "closed"}
    assert providers["airtel"] == {"test": "closed", "live": "closed"}


def test_one_token_is_fetched_and_shared_when_threads_start_together(mocked, adapter) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    mocked.post(RTP, status=202)
    start = threading.Barrier(10)

    def pay(_: int) -> Outcome:
        start.wait()
        return adapter.request_payment(instruction()).outcome

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(pay, range(10)))

    assert outcomes == [Outcome.PENDING] * 10
    assert len(calls_to(mocked, f"{BASE}/collection/token/")) == 1
    assert len(calls_to(mocked, RTP)) == 10


def test_each_kind_of_call_has_its_own_connect_and_read_timeouts(mocked, adapter, settings) -> None:
    settings.MTN_CONNECT_TIMEOUT = 2.5
    settings.MTN_READ_TIMEOUT_TOKEN = 7.0
    settings.MTN_READ_TIMEOUT_PAYMENT = 20.0
    settings.MTN_READ_TIMEOUT_STATUS = 4.0
    sent = instruction()
    mocked.post(RTP, status=202)
    mocked.get(f"{RTP}/{sent.reference}", json={"status": "PENDING"})

    adapter.request_payment(sent)
    adapter.fetch_status(sent)

    timeouts = {call.request.url: call.request.req_kwargs["timeout"] for call in mocked.calls}
    assert timeouts[f"{BASE}/collection/token/"] == (2.5, 7.0)
    assert timeouts[RTP] == (2.5, 20.0)
    assert timeouts[f"{RTP}/{sent.reference}"] == (2.5, 4.0)
