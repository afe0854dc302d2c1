"""Validation of money-moving requests: headers, bodies, currency, callback host, 409."""

from __future__ import annotations

import time
import uuid

import pytest

from providers.sandbox.models import MtnTransaction
from tests.providers.sandbox.conftest import basic

pytestmark = pytest.mark.django_db

DUPLICATE = {
    "code": "RESOURCE_ALREADY_EXIST",
    "message": "Duplicated reference id. Creation of resource failed.",
}


@pytest.fixture
def token(mtn) -> str:
    return mtn.token()


def test_request_to_pay_is_accepted_with_an_empty_202(mtn, token) -> None:
    reference, response = mtn.request_to_pay(token)

    assert response.status_code == 202
    assert response.content == b""
    row = MtnTransaction.objects.get()
    assert str(row.reference_id) == reference
    assert row.kind == "requesttopay"


def test_reused_reference_is_a_conflict(mtn, token) -> None:
    reference, _ = mtn.request_to_pay(token)

    _, response = mtn.request_to_pay(token, reference=reference, amount="99")

    assert response.status_code == 409
    assert response.json() == DUPLICATE
    assert MtnTransaction.objects.get().amount == 10


def test_same_reference_may_name_resources_of_different_kinds(mtn, token) -> None:
    reference, _ = mtn.request_to_pay(token)

    _, response = mtn.transfer(mtn.token("disbursement"), reference=reference)

    assert response.status_code == 202


@pytest.mark.parametrize(
    "reference",
    ["", "123", "not-a-uuid", str(uuid.uuid1()), uuid.uuid4().hex, "{" + str(uuid.uuid4()) + "}"],
)
def test_reference_must_be_a_uuid4(mtn, token, reference) -> None:
    body = mtn.money_body("260961234567")
    headers = mtn.headers(token, **{"X-Reference-Id": reference})

    response = mtn.call("POST", "/collection/v1_0/requesttopay", headers=headers, json_body=body)

    assert response.status_code == 400
    assert not MtnTransaction.objects.exists()


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'"text"', b"\xff\xfe"])
def test_malformed_body_is_a_bad_request(mtn, token, raw) -> None:
    headers = mtn.headers(token, **{"X-Reference-Id": str(uuid.uuid4())})

    response = mtn.call("POST", "/collection/v1_0/requesttopay", headers=headers, body=raw)

    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "5.555"},
        {"amount": ".5"},
        {"amount": "5."},
        {"amount": "0"},
        {"amount": "-1"},
        {"amount": 10},
        {"amount": "1e3"},
        {"amount": None},
        {"currency": None},
        {"payer": None},
        {"payer": {"partyIdType": "PHONE", "partyId": "260961234567"}},
        {"payer": {"partyIdType": "MSISDN", "partyId": "+260961234567"}},
        {"payer": {"partyIdType": "MSISDN", "partyId": "0961234567"}},
        {"payer": {"partyIdType": "MSISDN", "partyId": 260961234567}},
        {"payer": {"partyIdType": "EMAIL", "partyId": "not-an-email"}},
        {"payer": {"partyIdType": "PARTY_CODE", "partyId": "abc"}},
        {"payerMessage": "x" * 161},
        {"payeeNote": "x" * 161},
        {"payerMessage": "Joe's shop"},
        {"payeeNote": "fish & chips"},
        {"payerMessage": None},
        {"externalId": 123},
    ],
)
def test_invalid_field_is_a_bad_request(mtn, token, changes) -> None:
    body = mtn.money_body("260961234567")
    body.update(changes)

    _, response = mtn.submit("/collection/v1_0/requesttopay", token, body)

    assert response.status_code == 400, changes
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert not MtnTransaction.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "0.01"},
        {"amount": "123456.5"},
        {"payerMessage": "x" * 160},
        {"payer": {"partyIdType": "EMAIL", "partyId": "payer@example.com"}},
        {"payer": {"partyIdType": "PARTY_CODE", "partyId": str(uuid.uuid4())}},
    ],
)
def test_valid_variants_are_accepted(mtn, token, changes) -> None:
    body = mtn.money_body("260961234567")
    body.update(changes)
    body.pop("externalId")

    _, response = mtn.submit("/collection/v1_0/requesttopay", token, body)

    assert response.status_code == 202, response.content


@pytest.mark.parametrize(
    ("environment", "currency", "status"),
    [
        ("sandbox", "EUR", 202),
        ("sandbox", "ZMW", 500),
        ("mtnzambia", "ZMW", 202),
        ("mtnzambia", "EUR", 500),
        ("mtnzambia", "USD", 500),
    ],
)
def test_currency_must_be_the_environments(mtn, token, environment, currency, status) -> None:
    _, response = mtn.request_to_pay(token, currency=currency, environment=environment)

    assert response.status_code == status
    if status == 500:
        assert response.json()["code"] == "INVALID_CURRENCY"


def test_callback_url_on_the_registered_host_is_accepted(mtn, token) -> None:
    _, response = mtn.request_to_pay(token, callback_url="http://127.0.0.1:8000/callbacks/mtn/x")

    assert response.status_code == 202
    assert MtnTransaction.objects.get().callback_url == "http://127.0.0.1:8000/callbacks/mtn/x"


def test_callback_url_on_another_host_is_refused(mtn, token) -> None:
    _, response = mtn.request_to_pay(token, callback_url="https://attacker.example/cb")

    assert response.status_code == 500
    assert response.json()["code"] == "INVALID_CALLBACK_URL_HOST"
    assert not MtnTransaction.objects.exists()


@pytest.mark.parametrize("url", ["", "not a url", "ftp://127.0.0.1/cb", "/relative"])
def test_malformed_callback_url_is_a_bad_request(mtn, token, url) -> None:
    _, response = mtn.request_to_pay(token, callback_url=url)

    assert response.status_code == 400


def test_transfer_status_names_the_payee(mtn) -> None:
    token = mtn.token("disbursement")
    reference, response = mtn.transfer(token, "260961234567")
    assert response.status_code == 202

    status = mtn.get(f"/disbursement/v1_0/transfer/{reference}", token).json()

    assert status["payee"] == {"partyIdType": "MSISDN", "partyId": "260961234567"}
    assert "payer" not in status
    assert status["status"] == "SUCCESSFUL"


def test_transfer_needs_a_payee(mtn) -> None:
    token = mtn.token("disbursement")

    _, response = mtn.submit(
        "/disbursement/v1_0/transfer", token, mtn.money_body("260961234567", role="payer")
    )

    assert response.status_code == 400


@pytest.mark.parametrize("version", ["v1_0", "v2_0"])
def test_deposit_is_a_payout_with_its_own_status(mtn, version) -> None:
    token = mtn.token("disbursement")
    reference, response = mtn.submit(
        f"/disbursement/{version}/deposit", token, mtn.money_body("260961234567", role="payee")
    )
    assert response.status_code == 202

    status = mtn.get(f"/disbursement/v1_0/deposit/{reference}", token)

    assert status.json()["status"] == "SUCCESSFUL"
    assert mtn.get(f"/disbursement/v1_0/transfer/{reference}", token).status_code == 404


def test_status_of_an_unknown_reference_is_not_found(mtn, token) -> None:
    response = mtn.rtp_status(token, str(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json() == {
        "code": "RESOURCE_NOT_FOUND",
        "message": "Requested resource was not found.",
    }
    assert mtn.rtp_status(token, "not-a-uuid").status_code == 404


def test_status_of_another_api_users_request_is_not_found(mtn, token, simulator_settings) -> None:
    reference, _ = mtn.request_to_pay(token)
    other_user = str(uuid.uuid4())
    simulator_settings.MTN_SIMULATOR_USERS = [
        *simulator_settings.MTN_SIMULATOR_USERS,
        f"{other_user}:other-key",
    ]
    other_token = mtn.token(authorization=basic(other_user, "other-key"))

    assert mtn.rtp_status(other_token, reference).status_code == 404
    assert mtn.rtp_status(token, reference).status_code == 200


def test_latency_setting_delays_every_answer(mtn, simulator_settings) -> None:
    simulator_settings.MTN_SIMULATOR_LATENCY_MS = 200

    started = time.monotonic()
    mtn.call("GET", "/collection/v1_0/nothing")

    assert time.monotonic() - started >= 0.2


def test_failure_rate_setting_answers_503_and_stores_nothing(
    mtn, token, simulator_settings
) -> None:
    simulator_settings.MTN_SIMULATOR_FAILURE_RATE = 1.0

    _, response = mtn.request_to_pay(token)

    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert not MtnTransaction.objects.exists()
