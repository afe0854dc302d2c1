"""Contract tests of the Airtel adapter against Airtel's documented HTTP behaviour (`responses`).

The code table is exercised twice: every row of providers/airtel/codes.py through the adapter
(so a row the adapter cannot act on fails), and a hand-written set of expectations taken from
the operator's code tables (so a wrong row fails too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone

from providers.airtel import codes, signing
from providers.airtel.adapter import AirtelAdapter
from providers.airtel.codes import Verdict
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
    UnknownReference,
)
from tests.providers.airtel.conftest import CLIENT_ID, CLIENT_SECRET, HASH_KEY, PIN, config

BASE = "http://127.0.0.1:1/airtel"  # never reached: `responses` answers every call
TOKEN = f"{BASE}/auth/oauth2/token"
PUSH_V2 = f"{BASE}/merchant/v2/payments/"
PUSH_V1 = f"{BASE}/merchant/v1/payments/"
PAYOUT_V2 = f"{BASE}/standard/v2/disbursements/"
PAYOUT_V1 = f"{BASE}/standard/v1/disbursements/"
REFUND_V2 = f"{BASE}/standard/v2/payments/refund"
KEYS = f"{BASE}/v1/rsa/encryption-keys"

PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_KEY = base64.b64encode(
    PRIVATE_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()

pytestmark = pytest.mark.django_db  # breaker state changes are shared through the cache


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.AIRTEL_RETRY_INITIAL_SECONDS = 0
    settings.AIRTEL_RETRY_MAX_SECONDS = 0
    settings.AIRTEL_RETRY_ATTEMPTS = 3
    settings.AIRTEL_BREAKER_FAIL_MAX = 5
    settings.AIRTEL_BREAKER_RESET_SECONDS = 30


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        fake.post(
            TOKEN, json={"access_token": "tok-1", "expires_in": "180", "token_type": "bearer"}
        )
        yield fake


@pytest.fixture
def adapter() -> AirtelAdapter:
    return AirtelAdapter(mode="test", config=config(BASE, PUBLIC_KEY=PUBLIC_KEY))


@pytest.fixture
def adapter_v1() -> AirtelAdapter:
    return AirtelAdapter(mode="test", config=config(BASE, PUBLIC_KEY=PUBLIC_KEY, API_VERSION="v1"))


def instruction(operation: Operation = Operation.REQUEST_PAYMENT, **changes) -> PaymentInstruction:
    fields = {
        "reference": uuid.uuid4(),
        "operation": operation,
        "amount": Decimal("150.00"),
        "currency": "ZMW",
        "msisdn": "260971234567",
        "external_id": "pay_order-1042",
        **changes,
    }
    return PaymentInstruction(**fields)


def calls_to(fake, url: str) -> list:
    return [call for call in fake.calls if call.request.url.split("?")[0] == url.split("?")[0]]


def envelope(
    *,
    tx_status: str | None = None,
    response_code: str = "",
    result_code: str = "",
    success: bool = True,
    **transaction: Any,
) -> dict[str, Any]:
    tx = {**transaction, **({"status": tx_status} if tx_status else {})}
    return {
        "data": {"transaction": tx} if tx else {},
        "status": {
            "code": "200",
            "message": "x",
            "result_code": result_code,
            "response_code": response_code,
            "success": success,
        },
    }


def opened(request_body: str, headers) -> bytes:
    """What the receiver (the simulator, Airtel) reads from x-signature and x-key."""
    return signing.open_signature(
        PRIVATE_KEY, x_signature=headers["x-signature"], x_key=headers["x-key"]
    )


# --- every operation --------------------------------------------------------------------------


def test_push_v2_sends_airtels_headers_and_a_body_signed_for_airtels_key(mocked, adapter) -> None:
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))
    sent = instruction(amount=Decimal("150.50"))

    result = adapter.request_payment(sent)

    assert result.outcome is Outcome.PENDING  # the prompt went out; not paid yet
    [call] = calls_to(mocked, PUSH_V2)
    headers = call.request.headers
    assert headers["Authorization"] == "Bearer tok-1"
    assert (headers["X-Country"], headers["X-Currency"]) == ("ZM", "ZMW")
    assert headers["Content-Type"] == "application/json"
    body = json.loads(call.request.body)
    assert body == {
        "reference": "payorder1042",  # alphanumeric only
        "subscriber": {"country": "ZM", "currency": "ZMW", "msisdn": "971234567"},
        "transaction": {
            "amount": 150.5,
            "country": "ZM",
            "currency": "ZMW",
            "id": sent.reference.hex,
        },
    }
    # x-signature decrypts, with the key x-key unwraps, to exactly the bytes sent.
    assert opened(call.request.body, headers) == call.request.body.encode()
    key_b64, _, iv_b64 = (
        PRIVATE_KEY.decrypt(base64.b64decode(headers["x-key"]), padding.PKCS1v15())
        .decode()
        .partition(":")
    )
    assert (len(base64.b64decode(key_b64)), len(base64.b64decode(iv_b64))) == (32, 16)


def test_each_signature_uses_a_fresh_key(mocked, adapter) -> None:
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))
    adapter.request_payment(instruction())
    adapter.request_payment(instruction())

    keys = {call.request.headers["x-key"] for call in calls_to(mocked, PUSH_V2)}
    assert len(keys) == 2


def test_a_body_changed_after_signing_would_not_match(mocked, adapter) -> None:
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))
    adapter.request_payment(instruction())
    [call] = calls_to(mocked, PUSH_V2)

    tampered = call.request.body.replace('"ZMW"', '"USD"', 1).encode()
    assert opened(call.request.body, call.request.headers) != tampered


def test_push_v1_is_unsigned(mocked, adapter_v1) -> None:
    mocked.post(PUSH_V1, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))

    assert adapter_v1.request_payment(instruction()).outcome is Outcome.PENDING
    [call] = calls_to(mocked, PUSH_V1)
    assert "x-signature" not in call.request.headers and "x-key" not in call.request.headers


def test_the_encryption_key_is_fetched_once_when_not_configured(mocked) -> None:
    adapter = AirtelAdapter(mode="test", config=config(BASE, PUBLIC_KEY=""))
    mocked.get(
        KEYS,
        json={
            "data": {"key_id": "1", "key": PUBLIC_KEY, "valid_upto": "2030-01-01"},
            "status": {"code": "200", "response_code": "DP02010001001", "success": True},
        },
    )
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))

    adapter.request_payment(instruction())
    adapter.request_payment(instruction())

    assert len(calls_to(mocked, KEYS)) == 1
    for call in calls_to(mocked, PUSH_V2):
        assert opened(call.request.body, call.request.headers) == call.request.body.encode()


def test_payout_v2_encrypts_the_pin_and_is_successful_on_ts(mocked, adapter) -> None:
    sent = instruction(Operation.SEND_PAYOUT)
    mocked.post(
        PAYOUT_V2,
        json=envelope(
            tx_status="TS",
            response_code="DP00900001001",
            airtel_money_id="MP210603.1234.L06941",
            id=sent.reference.hex,
        ),
    )

    result = adapter.send_payout(sent)

    assert result.outcome is Outcome.SUCCESSFUL
    assert result.provider_transaction_id == "MP210603.1234.L06941"
    [call] = calls_to(mocked, PAYOUT_V2)
    body = json.loads(call.request.body)
    assert body["payee"] == {"msisdn": "971234567", "currency": "ZMW"}
    assert body["transaction"] == {"amount": 150, "id": sent.reference.hex, "type": "B2C"}
    clear = PRIVATE_KEY.decrypt(base64.b64decode(body["pin"]), padding.PKCS1v15()).decode()
    assert clear == PIN
    assert opened(call.request.body, call.request.headers) == call.request.body.encode()
    # The timeline shows neither the PIN nor its ciphertext.
    assert result.calls[0].request_body["pin"] == "[encrypted]"


def test_payout_v1_has_no_type_and_no_currency(mocked, adapter_v1) -> None:
    mocked.post(PAYOUT_V1, json=envelope(tx_status="TIP", response_code="DP00900001006"))

    assert adapter_v1.send_payout(instruction(Operation.SEND_PAYOUT)).outcome is Outcome.PENDING
    body = json.loads(calls_to(mocked, PAYOUT_V1)[0].request.body)
    assert body["payee"] == {"msisdn": "971234567"}
    assert "type" not in body["transaction"]


def test_payout_without_a_pin_is_a_configuration_error(mocked) -> None:
    adapter = AirtelAdapter(
        mode="test", config=config(BASE, PUBLIC_KEY=PUBLIC_KEY, DISBURSEMENT_PIN="")
    )

    with pytest.raises(ConfigurationError):
        adapter.send_payout(instruction(Operation.SEND_PAYOUT))
    assert not calls_to(mocked, PAYOUT_V2)


def test_refund_names_the_collections_airtel_money_id_and_nothing_else(mocked, adapter) -> None:
    mocked.post(REFUND_V2, json=envelope(tx_status="TS", airtel_money_id="MP1", response_code=""))

    result = adapter.refund(instruction(Operation.REFUND, refund_of_transaction_id="MP1"))

    assert result.outcome is Outcome.SUCCESSFUL
    [call] = calls_to(mocked, REFUND_V2)
    assert json.loads(call.request.body) == {"transaction": {"airtel_money_id": "MP1"}}
    with pytest.raises(PermanentError):
        adapter.refund(instruction(Operation.REFUND))


@pytest.mark.parametrize(
    ("operation", "version", "path"),
    [
        (Operation.REQUEST_PAYMENT, "v2", "/standard/v1/payments/{id}"),
        (Operation.REQUEST_PAYMENT, "v1", "/standard/v1/payments/{id}"),
        (Operation.SEND_PAYOUT, "v2", "/standard/v2/disbursements/{id}?transactionType=B2C"),
        (Operation.SEND_PAYOUT, "v1", "/standard/v1/disbursements/{id}"),
    ],
)
def test_enquiry_paths_name_our_id(mocked, operation, version, path) -> None:
    adapter = AirtelAdapter(
        mode="test", config=config(BASE, PUBLIC_KEY=PUBLIC_KEY, API_VERSION=version)
    )
    sent = instruction(operation)
    url = BASE + path.format(id=sent.reference.hex)
    mocked.get(url.split("?")[0], json=envelope(tx_status="TS", airtel_money_id="MP9"))

    result = adapter.fetch_status(sent)

    assert (result.outcome, result.provider_transaction_id) == (Outcome.SUCCESSFUL, "MP9")
    [call] = mocked.calls[1:]
    assert call.request.url == url


def test_collection_enquiry_waits_for_airtels_delay(mocked) -> None:
    from django.utils import timezone

    adapter = AirtelAdapter(
        mode="test", config=config(BASE, PUBLIC_KEY=PUBLIC_KEY, ENQUIRY_DELAY_SECONDS="180")
    )

    result = adapter.fetch_status(instruction(submitted_at=timezone.now()))

    assert result.outcome is Outcome.PENDING
    assert not mocked.calls  # not even a token


def test_a_refund_has_no_enquiry(adapter) -> None:
    with pytest.raises(OutcomeUnknownError):
        adapter.fetch_status(instruction(Operation.REFUND))


def test_balance_and_kyc(mocked, adapter) -> None:
    mocked.get(
        f"{BASE}/standard/v1/users/balance",
        json={
            "data": {"balance": "230486.65", "currency": "ZMW", "account_status": "Active"},
            "status": {"code": "200", "response_code": "DP02100000001", "success": True},
        },
    )
    mocked.get(
        f"{BASE}/standard/v1/users/971234567",
        json={
            "data": {"first_name": "Mwape", "last_name": "Banda", "is_barred": False},
            "status": {"code": "200", "response_code": "DP02200000001", "success": True},
        },
    )
    mocked.get(
        f"{BASE}/standard/v1/users/970000001",
        json={
            "data": {"first_name": "B", "last_name": "C", "is_barred": "true"},
            "status": {"code": "200", "response_code": "DP02200000001", "success": True},
        },
    )
    mocked.get(
        f"{BASE}/standard/v1/users/970000002",
        json={"data": {}, "status": {"code": "200", "response_code": "DP02200000002"}},
    )

    balance = adapter.balance()
    holder = adapter.account_holder("260971234567")
    barred = adapter.account_holder("260970000001")
    unknown = adapter.account_holder("260970000002")

    assert (balance.available, balance.currency) == (Decimal("230486.65"), "ZMW")
    assert (holder.active, holder.given_name, holder.family_name) == (True, "Mwape", "Banda")
    assert barred.active is False
    assert (unknown.active, unknown.given_name) == (False, None)


def test_balance_refused_is_permanent(mocked, adapter) -> None:
    mocked.get(
        f"{BASE}/standard/v1/users/balance",
        json={"data": {}, "status": {"code": "200", "response_code": "DP02100000000"}},
    )

    with pytest.raises(PermanentError):
        adapter.balance()


# --- the code table ---------------------------------------------------------------------------


def _answer_for(code: str) -> dict[str, Any]:
    if code.startswith("ROUTER"):
        return {"status_code": code, "status_message": "router says"}
    if code.startswith("ESB"):
        return envelope(result_code=code, success=code == "ESB000010")
    return envelope(response_code=code, success=code.endswith("1"))


@pytest.mark.parametrize(("code", "row"), sorted(codes.CODES.items()))
def test_every_code_in_the_table_is_acted_on_as_the_table_says(mocked, adapter, code, row) -> None:
    verdict, failure_code = row
    sent = instruction(Operation.SEND_PAYOUT)
    mocked.post(PAYOUT_V2, json=_answer_for(code))

    if verdict is Verdict.FAILED:
        with pytest.raises(PermanentError) as raised:
            adapter.send_payout(sent)
        assert raised.value.failure_code is failure_code
    elif verdict is Verdict.UNKNOWN:
        with pytest.raises(OutcomeUnknownError):
            adapter.send_payout(sent)
    else:
        # A code alone, even a success code, never completes a payout: only a transaction
        # status TS does (tested apart); otherwise the enquiry decides.
        assert adapter.send_payout(sent).outcome is Outcome.PENDING
    assert len(calls_to(mocked, PAYOUT_V2)) == 1  # a code is never a reason to resend


@pytest.mark.parametrize(("code", "row"), sorted(codes.CODES.items()))
def test_every_code_in_the_table_on_an_enquiry(mocked, adapter, code, row) -> None:
    verdict, failure_code = row
    sent = instruction(Operation.SEND_PAYOUT)
    mocked.get(f"{BASE}/standard/v2/disbursements/{sent.reference.hex}", json=_answer_for(code))

    result = adapter.fetch_status(sent)

    if verdict is Verdict.FAILED:
        assert (result.outcome, result.failure_code) == (Outcome.FAILED, failure_code)
    elif verdict is Verdict.SUCCESS:
        assert result.outcome is Outcome.SUCCESSFUL
    else:  # pending, unknown or duplicate: ask again later, never a failure
        assert result.outcome is Outcome.PENDING


NOT_FOUND = envelope(response_code="DP00800001025", result_code="ESB000045", success=False)


@pytest.mark.parametrize(("waited", "lost"), [(185 + 59, False), (185 + 61, True)])
def test_an_id_still_not_found_past_the_delay_and_margin_is_an_unknown_reference(
    mocked, waited, lost
) -> None:
    adapter = AirtelAdapter(
        mode="test",
        config=config(
            BASE, PUBLIC_KEY=PUBLIC_KEY, ENQUIRY_DELAY_SECONDS="185", NOT_FOUND_MARGIN_SECONDS="60"
        ),
    )
    sent = instruction(submitted_at=timezone.now() - timedelta(seconds=waited))
    mocked.get(f"{BASE}/standard/v1/payments/{sent.reference.hex}", json=NOT_FOUND)

    if lost:  # the payments service decides whether to send it again
        with pytest.raises(UnknownReference) as raised:
            adapter.fetch_status(sent)
        assert [call.method for call in raised.value.calls] == ["GET"]
    else:  # within the delay and margin "not found" is only "not yet"
        assert adapter.fetch_status(sent).outcome is Outcome.PENDING
    assert calls_to(mocked, PUSH_V2) == []  # a status check never sends the request


def test_a_payout_not_found_long_after_its_send_is_an_unknown_reference(mocked, adapter) -> None:
    sent = instruction(Operation.SEND_PAYOUT, submitted_at=timezone.now() - timedelta(seconds=3600))
    mocked.get(
        f"{BASE}/standard/v2/disbursements/{sent.reference.hex}",
        json=envelope(response_code="DP00900001015", success=False),
    )

    with pytest.raises(UnknownReference):
        adapter.fetch_status(sent)
    assert calls_to(mocked, PAYOUT_V2) == []


# Written from the operator's code tables and our mapping, not copied from codes.py.
EXPECTED: dict[str, FailureCode | Verdict] = {
    "DP00800001001": Verdict.SUCCESS,
    "DP00800001002": FailureCode.PAYER_DECLINED,
    "DP00800001003": FailureCode.LIMIT_EXCEEDED,
    "DP00800001005": FailureCode.EXPIRED,
    "DP00800001006": Verdict.PENDING,
    "DP00800001007": FailureCode.INSUFFICIENT_FUNDS,
    "DP00800001008": FailureCode.PAYER_DECLINED,
    "DP00800001009": FailureCode.PAYER_DECLINED,
    "DP00800001010": FailureCode.NOT_ALLOWED,
    "DP00800001026": FailureCode.PROVIDER_ERROR,
    "DP00800001029": FailureCode.EXPIRED,
    "DP00900001003": FailureCode.LIMIT_EXCEEDED,
    "DP00900001004": FailureCode.LIMIT_EXCEEDED,
    "DP00900001007": FailureCode.INSUFFICIENT_FUNDS,
    "DP00900001009": FailureCode.NOT_ALLOWED,
    "DP00900001010": FailureCode.NOT_ALLOWED,
    "DP00900001012": FailureCode.INVALID_MSISDN,
    "DP00900001013": FailureCode.PAYER_DECLINED,
    "DP00900001016": FailureCode.PROVIDER_ERROR,
    "DP02200000002": FailureCode.PAYER_NOT_FOUND,
    "ESB000008": FailureCode.PROVIDER_ERROR,
    "ESB000033": FailureCode.INVALID_MSISDN,
    "ESB000034": FailureCode.PROVIDER_ERROR,
    "ESB000035": FailureCode.PROVIDER_ERROR,
    "ESB000036": FailureCode.INVALID_MSISDN,
    "ESB000039": FailureCode.PROVIDER_ERROR,
    "ROUTER001": FailureCode.PROVIDER_ERROR,
    "ROUTER115": FailureCode.PROVIDER_ERROR,
    # Never a failure: the outcome is unknown, or an earlier attempt arrived.
    "DP00800001000": Verdict.UNKNOWN,
    "DP00800001024": Verdict.UNKNOWN,
    "DP00900001000": Verdict.UNKNOWN,
    "DP00900001006": Verdict.PENDING,
    "DP00900001014": Verdict.UNKNOWN,
    "DP00900001011": Verdict.DUPLICATE,
    "DP00900001017": Verdict.DUPLICATE,
    "ESB000001": Verdict.UNKNOWN,
    "ESB000004": Verdict.UNKNOWN,
    "ESB000014": Verdict.UNKNOWN,
    "ESB000041": Verdict.DUPLICATE,
    "ROUTER117": Verdict.UNKNOWN,
}


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED.items()))
def test_the_table_maps_representative_codes_as_documented(code, expected) -> None:
    row = codes.lookup(code)

    assert row is not None, f"{code} is not in the table"
    if isinstance(expected, FailureCode):
        assert row == (Verdict.FAILED, expected)
    else:
        assert row == (expected, None)


@pytest.mark.parametrize(
    ("tx_status", "outcome", "failure_code"),
    [
        ("TS", Outcome.SUCCESSFUL, None),
        ("TIP", Outcome.PENDING, None),
        ("TA", Outcome.PENDING, None),  # ambiguous: ask again
        ("TF", Outcome.FAILED, FailureCode.PROVIDER_ERROR),
        ("TE", Outcome.FAILED, FailureCode.EXPIRED),
        ("SOMETHING_NEW", Outcome.PENDING, None),
    ],
)
def test_enquiry_statuses(mocked, adapter, tx_status, outcome, failure_code) -> None:
    sent = instruction()
    mocked.get(
        f"{BASE}/standard/v1/payments/{sent.reference.hex}",
        json=envelope(tx_status=tx_status, message="m", id=sent.reference.hex),
    )

    result = adapter.fetch_status(sent)

    assert (result.outcome, result.failure_code) == (outcome, failure_code)


def test_a_failed_status_is_refined_by_its_response_code(mocked, adapter) -> None:
    sent = instruction()
    mocked.get(
        f"{BASE}/standard/v1/payments/{sent.reference.hex}",
        json=envelope(
            tx_status="TF", response_code="DP00800001007", success=False, message="No funds"
        ),
    )

    result = adapter.fetch_status(sent)

    assert (result.outcome, result.failure_code) == (Outcome.FAILED, FailureCode.INSUFFICIENT_FUNDS)
    assert result.failure_message == "No funds"


def test_a_ts_beside_success_false_is_decided_by_the_transaction(mocked, adapter) -> None:
    sent = instruction()
    mocked.get(
        f"{BASE}/standard/v1/payments/{sent.reference.hex}",
        json=envelope(tx_status="TS", success=False, airtel_money_id="MP7"),
    )

    assert adapter.fetch_status(sent).outcome is Outcome.SUCCESSFUL


def test_a_push_answered_with_an_empty_body_is_outcome_unknown(mocked, adapter) -> None:
    mocked.post(PUSH_V2, body="")

    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction())


# --- timeouts and transport failures ----------------------------------------------------------


@pytest.mark.parametrize(
    "error", [requests.ConnectTimeout(), requests.ConnectionError("Connection refused")]
)
def test_connection_failures_on_a_push_are_retried_with_the_same_id(mocked, adapter, error) -> None:
    mocked.post(PUSH_V2, body=error)
    sent = instruction()

    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(sent)

    attempts = calls_to(mocked, PUSH_V2)
    assert len(attempts) == 3
    assert {json.loads(a.request.body)["transaction"]["id"] for a in attempts} == {
        sent.reference.hex
    }
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE


def test_read_timeout_on_a_money_post_is_outcome_unknown_then_enquired_with_the_same_id(
    mocked, adapter
) -> None:
    mocked.post(PAYOUT_V2, body=requests.ReadTimeout())
    sent = instruction(Operation.SEND_PAYOUT)
    enquiry = f"{BASE}/standard/v2/disbursements/{sent.reference.hex}"
    mocked.get(enquiry, json=envelope(tx_status="TS", airtel_money_id="MP5"))

    with pytest.raises(OutcomeUnknownError) as raised:
        adapter.send_payout(sent)
    result = adapter.fetch_status(sent)

    assert len(calls_to(mocked, PAYOUT_V2)) == 1  # never resent
    assert raised.value.calls[0].error == "read_timeout"
    assert result.outcome is Outcome.SUCCESSFUL
    assert len(calls_to(mocked, enquiry)) == 1


def test_a_dropped_connection_after_sending_is_outcome_unknown(mocked, adapter) -> None:
    mocked.post(PUSH_V2, body=requests.ConnectionError("Connection reset by peer"))

    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction())
    assert len(calls_to(mocked, PUSH_V2)) == 1


@pytest.mark.parametrize("status", [500, 502, 408])
def test_5xx_and_408_on_a_money_post_are_outcome_unknown_not_resent(
    mocked, adapter, status
) -> None:
    mocked.post(PUSH_V2, status=status, json={"error": "x"})

    with pytest.raises(OutcomeUnknownError):
        adapter.request_payment(instruction())
    assert len(calls_to(mocked, PUSH_V2)) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retried(mocked, adapter, status) -> None:
    mocked.post(PUSH_V2, status=status, json={})
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING
    assert [c.response.status_code for c in calls_to(mocked, PUSH_V2)] == [status, 200]


def test_read_timeout_on_an_enquiry_is_retried(mocked, adapter) -> None:
    sent = instruction()
    enquiry = f"{BASE}/standard/v1/payments/{sent.reference.hex}"
    mocked.get(enquiry, body=requests.ReadTimeout())
    mocked.get(enquiry, json=envelope(tx_status="TIP"))

    assert adapter.fetch_status(sent).outcome is Outcome.PENDING
    assert len(calls_to(mocked, enquiry)) == 2


def test_each_kind_of_call_has_its_own_connect_and_read_timeouts(mocked, adapter, settings) -> None:
    settings.AIRTEL_CONNECT_TIMEOUT = 2.5
    settings.AIRTEL_READ_TIMEOUT_TOKEN = 7.0
    settings.AIRTEL_READ_TIMEOUT_PAYMENT = 20.0
    settings.AIRTEL_READ_TIMEOUT_STATUS = 4.0
    sent = instruction()
    enquiry = f"{BASE}/standard/v1/payments/{sent.reference.hex}"
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))
    mocked.get(enquiry, json=envelope(tx_status="TIP"))

    adapter.request_payment(sent)
    adapter.fetch_status(sent)

    timeouts = {call.request.url: call.request.req_kwargs["timeout"] for call in mocked.calls}
    assert timeouts[TOKEN] == (2.5, 7.0)
    assert timeouts[PUSH_V2] == (2.5, 20.0)
    assert timeouts[enquiry] == (2.5, 4.0)


# --- the breaker ------------------------------------------------------------------------------


def _trip(mocked, adapter) -> None:
    mocked.post(PUSH_V2, status=503, json={})
    for _ in range(2):  # 2 calls x 3 attempts = 6 failures >= 5
        with pytest.raises(RetryableError):
            adapter.request_payment(instruction())


def test_breaker_opens_after_consecutive_failures_then_fails_fast(mocked, adapter) -> None:
    _trip(mocked, adapter)
    sent_before = len(calls_to(mocked, PUSH_V2))

    with pytest.raises(ProviderUnavailable) as raised:
        adapter.request_payment(instruction())

    assert adapter.breaker_state() == "open"
    assert len(calls_to(mocked, PUSH_V2)) == sent_before  # nothing sent
    assert raised.value.retry_after is not None and 1 <= raised.value.retry_after <= 30
    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE


def test_breaker_half_open_probe_closes_on_success(mocked, adapter) -> None:
    _trip(mocked, adapter)
    adapter.breaker._opened -= 31  # the cool-down has passed
    assert adapter.breaker_state() == "half_open"
    mocked.replace(
        responses.POST,
        PUSH_V2,
        json=envelope(tx_status="SUCCESS", response_code="DP00800001006"),
    )

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING
    assert adapter.breaker_state() == "closed"


def test_breaker_half_open_probe_that_fails_opens_again(mocked, adapter) -> None:
    _trip(mocked, adapter)
    adapter.breaker._opened -= 31
    assert adapter.breaker_state() == "half_open"
    sent_before = len(calls_to(mocked, PUSH_V2))

    with pytest.raises(RetryableError):
        adapter.request_payment(instruction())

    assert adapter.breaker_state() == "open"
    assert len(calls_to(mocked, PUSH_V2)) == sent_before + 1  # one probe, then fail fast


def test_business_refusals_do_not_open_the_breaker(mocked, adapter) -> None:
    mocked.post(PUSH_V2, json=envelope(tx_status="TF", response_code="DP00800001007"))
    for _ in range(8):
        with pytest.raises(PermanentError):
            adapter.request_payment(instruction())

    assert adapter.breaker_state() == "closed"


# --- the token --------------------------------------------------------------------------------


def test_token_is_fetched_with_client_credentials_and_reused(mocked, adapter) -> None:
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))

    adapter.request_payment(instruction())
    adapter.request_payment(instruction())

    [token_call] = calls_to(mocked, TOKEN)
    assert json.loads(token_call.request.body) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "client_credentials",
    }


@pytest.mark.parametrize("expires_in", ["180", 180])
def test_token_is_renewed_before_its_180_seconds_end(mocked, adapter, expires_in) -> None:
    mocked.replace(responses.POST, TOKEN, json={"access_token": "tok-1", "expires_in": expires_in})
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))
    adapter.request_payment(instruction())
    assert adapter._token is not None
    assert 140 <= adapter._token.refresh_at - time.monotonic() <= 180

    adapter._token.refresh_at = 0
    adapter.request_payment(instruction())

    assert len(calls_to(mocked, TOKEN)) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, {"error": "unauthorized"}), (403, {"error": "invalid_token"})],
)
def test_401_or_403_fetches_a_new_token_and_retries_once(mocked, adapter, status, body) -> None:
    mocked.replace(responses.POST, TOKEN, json={"access_token": "tok-1", "expires_in": 180})
    mocked.post(TOKEN, json={"access_token": "tok-2", "expires_in": 180})
    mocked.post(PUSH_V2, status=status, json=body)
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))

    assert adapter.request_payment(instruction()).outcome is Outcome.PENDING
    attempts = calls_to(mocked, PUSH_V2)
    assert [a.request.headers["Authorization"] for a in attempts] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    assert len(calls_to(mocked, TOKEN)) == 2


def test_refused_credentials_are_retryable_and_never_reach_the_product(mocked, adapter) -> None:
    mocked.replace(
        responses.POST,
        TOKEN,
        status=401,
        json={"error": "invalid_client", "error_description": "Invalid client authentication"},
    )

    with pytest.raises(RetryableError) as raised:
        adapter.request_payment(instruction())

    assert raised.value.failure_code is FailureCode.PROVIDER_UNAVAILABLE
    assert not calls_to(mocked, PUSH_V2)


def test_missing_credentials_are_a_configuration_error(mocked) -> None:
    adapter = AirtelAdapter(mode="live", config=config(BASE, PUBLIC_KEY=PUBLIC_KEY, CLIENT_ID=""))

    with pytest.raises(ConfigurationError):
        adapter.request_payment(instruction())
    assert not mocked.calls


def test_one_token_is_fetched_and_shared_when_threads_start_together(mocked, adapter) -> None:
    mocked.post(PUSH_V2, json=envelope(tx_status="SUCCESS", response_code="DP00800001006"))
    start = threading.Barrier(10)

    def pay(_: int) -> Outcome:
        start.wait()
        return adapter.request_payment(instruction()).outcome

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(pay, range(10)))

    assert outcomes == [Outcome.PENDING] * 10
    assert len(calls_to(mocked, TOKEN)) == 1


def test_recorded_calls_never_hold_secrets(mocked, adapter) -> None:
    mocked.post(PAYOUT_V2, status=503, json={})
    mocked.post(PAYOUT_V2, json=envelope(tx_status="TS", response_code="DP00900001001"))

    result = adapter.send_payout(instruction(Operation.SEND_PAYOUT))

    recorded = repr(result.calls)
    for call in calls_to(mocked, PAYOUT_V2):
        assert call.request.headers["x-key"] not in recorded
        assert json.loads(call.request.body)["pin"] not in recorded
    for secret in (CLIENT_SECRET, "tok-1", PIN):
        assert secret not in recorded
    assert result.calls[0].request_headers["Authorization"] == "[redacted]"
    assert result.calls[0].request_headers["x-key"] == "[redacted]"


# --- callbacks --------------------------------------------------------------------------------


def _callback(status_code: str = "TS", reference: uuid.UUID | None = None, **extra: Any) -> dict:
    return {
        "transaction": {
            "id": (reference or uuid.uuid4()).hex,
            "message": "Paid ZMW 150 to Shop",
            "status_code": status_code,
            "airtel_money_id": "MP210603.1234.L06941",
        },
        **extra,
    }


def _hashed(payload: dict, message: Any) -> bytes:
    compact = json.dumps(message, separators=(",", ":")).encode()
    digest = hmac.new(HASH_KEY.encode(), compact, hashlib.sha256).digest()
    return json.dumps({**payload, "hash": base64.b64encode(digest).decode()}).encode()


@pytest.mark.parametrize(
    ("status_code", "outcome"),
    [("TS", Outcome.SUCCESSFUL), ("TF", Outcome.FAILED), ("TIP", Outcome.PENDING)],
)
def test_parse_callback_is_a_hint_and_names_our_reference(adapter, status_code, outcome) -> None:
    reference = uuid.uuid4()
    body = json.dumps(_callback(status_code, reference)).encode()

    hint = adapter.parse_callback(body)

    assert hint.claimed_outcome is outcome
    assert hint.provider_transaction_id == "MP210603.1234.L06941"
    assert AirtelAdapter.callback_reference(body) == reference


@pytest.mark.parametrize("body", [b"<html>", b"[]", b'{"transaction": "x"}', b"\xff"])
def test_unusable_callbacks(adapter, body) -> None:
    with pytest.raises(PermanentError):
        adapter.parse_callback(body)
    assert AirtelAdapter.callback_reference(body) is None


def test_callback_hash_is_checked_over_either_documented_message(adapter) -> None:
    payload = _callback()
    over_transaction = _hashed(payload, payload["transaction"])
    over_payload = _hashed(payload, payload)
    wrong = json.dumps({**payload, "hash": "bm90IGl0"}).encode()
    unhashed = json.dumps(payload).encode()

    assert adapter.verify_callback({}, over_transaction) is True
    assert adapter.verify_callback({}, over_payload) is True
    assert adapter.verify_callback({}, wrong) is False
    assert adapter.verify_callback({}, unhashed) is False
    tampered = json.loads(over_transaction)
    tampered["transaction"]["status_code"] = "TF"
    assert adapter.verify_callback({}, json.dumps(tampered).encode()) is False


def test_without_a_hash_key_there_is_nothing_to_verify() -> None:
    adapter = AirtelAdapter(mode="test", config=config(BASE, CALLBACK_HASH_KEY=""))

    assert adapter.verify_callback({}, json.dumps(_callback()).encode()) is None
