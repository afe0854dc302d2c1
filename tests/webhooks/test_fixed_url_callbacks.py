"""Airtel calls one fixed URL per app (/api/v1/webhooks/airtel): the payment is found by the
reference the adapter reads from the body, the hash is checked by Airtel's adapter, and a
body naming no payment of ours is a guess (404, not stored)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from payments import services as payments
from payments.models import Payment, Status
from tests.payments.factories import PaymentFactory
from tests.problem import assert_problem
from webhooks.models import CallbackOutcome, InboundCallback

KEY = "fixed-url-hash-key"
URL = "/api/v1/webhooks/airtel"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hash_key(settings):
    settings.AIRTEL = {
        **settings.AIRTEL,
        "test": {**settings.AIRTEL["test"], "CALLBACK_HASH_KEY": KEY},
    }


@pytest.fixture
def refreshes(monkeypatch) -> list[int]:
    asked: list[int] = []
    real = payments.request_refresh

    def recording(*, payment: Payment) -> bool:
        asked.append(payment.pk)
        return real(payment=payment)

    monkeypatch.setattr(payments, "request_refresh", recording)
    return asked


def _body(ident: str, *, status_code: str = "TS", key: str = KEY) -> bytes:
    transaction = {
        "id": ident,
        "message": "Paid ZMW 150 to Shop",
        "status_code": status_code,
        "airtel_money_id": "MP210603.1234.L06941",
    }
    compact = json.dumps(transaction, separators=(",", ":")).encode()
    digest = hmac.new(key.encode(), compact, hashlib.sha256).digest()
    return json.dumps(
        {"transaction": transaction, "hash": base64.b64encode(digest).decode()}
    ).encode()


def _post(body: bytes, url: str = URL):
    return Client().post(url, body, content_type="application/json")


def _airtel_payment() -> Payment:
    return PaymentFactory.create(provider="airtel", msisdn="260971234567")


def test_the_payment_is_found_by_the_reference_in_the_body(refreshes) -> None:
    payment = _airtel_payment()
    other = _airtel_payment()

    answer = _post(_body(payment.provider_reference.hex))

    assert answer.status_code == 200
    assert answer.json()["outcome"] == CallbackOutcome.REFRESH_REQUESTED
    [stored] = InboundCallback.objects.all()
    assert stored.payment_id == payment.pk and stored.payment_id != other.pk
    assert stored.provider == "airtel"
    assert stored.signature_valid is True
    assert stored.claimed_status == "successful"
    assert refreshes == [payment.pk]


def test_a_bad_hash_is_401_and_acts_on_nothing(refreshes) -> None:
    payment = _airtel_payment()

    answer = _post(_body(payment.provider_reference.hex, key="not-the-key"))

    assert_problem(answer, 401, "bad_signature")
    [stored] = InboundCallback.objects.all()  # kept, as evidence
    assert (stored.outcome, stored.signature_valid) == (CallbackOutcome.BAD_SIGNATURE, False)
    assert refreshes == []


def test_a_missing_hash_is_401_when_a_key_is_set(refreshes) -> None:
    payment = _airtel_payment()
    body = json.loads(_body(payment.provider_reference.hex))
    del body["hash"]

    assert_problem(_post(json.dumps(body).encode()), 401, "bad_signature")
    assert refreshes == []


@pytest.mark.parametrize(
    "ident",
    [uuid.uuid4().hex, str(uuid.uuid4()), "not-a-reference", "", "\u0000"],
)
def test_an_unknown_reference_is_404_and_not_stored(refreshes, ident) -> None:
    _airtel_payment()

    answer = _post(_body(ident))

    assert_problem(answer, 404, "unknown_callback_token")
    assert not InboundCallback.objects.exists()
    assert refreshes == []


@pytest.mark.parametrize("body", [b"<html>", b"{}", b'{"transaction": []}', b"\xff\xfe"])
def test_a_body_that_names_nothing_is_404_and_not_stored(body) -> None:
    _airtel_payment()

    assert_problem(_post(body), 404, "unknown_callback_token")
    assert not InboundCallback.objects.exists()


def test_another_operators_payment_is_not_found_by_its_reference() -> None:
    mtn = PaymentFactory.create(provider="mtn")

    assert_problem(_post(_body(mtn.provider_reference.hex)), 404, "unknown_callback_token")
    assert not InboundCallback.objects.exists()


def test_airtel_has_no_per_payment_token_route() -> None:
    payment = _airtel_payment()

    answer = _post(_body(payment.provider_reference.hex), f"{URL}/{payment.callback_token}")

    assert_problem(answer, 404, "unknown_callback_token")
    assert not InboundCallback.objects.exists()


def test_a_repeated_callback_for_a_final_payment_is_stored_and_ignored(refreshes) -> None:
    payment = _airtel_payment()
    Payment.objects.filter(pk=payment.pk).update(
        status=Status.SUCCESSFUL, completed_at=timezone.now()
    )

    answer = _post(_body(payment.provider_reference.hex))

    assert answer.json()["outcome"] == CallbackOutcome.ALREADY_FINAL
    assert refreshes == []
