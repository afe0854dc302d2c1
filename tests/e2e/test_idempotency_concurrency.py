"""Exactly one payment, and one operator request, per Idempotency-Key under real concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from payments.models import Payment
from providers.sandbox.models import MtnTransaction
from tests.e2e.conftest import Gateway, final

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = 4
CONCURRENT = 20


def test_simultaneous_identical_requests_make_one_payment_and_one_request_to_pay(
    gateway: Gateway,
) -> None:
    url = f"{gateway.base_url}/api/v1/payments"
    start = threading.Barrier(CONCURRENT)

    def send(key: str, body: dict) -> requests.Response:
        session = requests.Session()
        session.headers.update(gateway.session.headers)
        start.wait()  # release all 20 at once
        return session.post(url, json=body, headers={"Idempotency-Key": key}, timeout=30)

    answers: dict[str, list[requests.Response]] = {}
    for index in range(KEYS):
        key = f"order-{index}-attempt"
        body = {"amount": "150.00", "msisdn": "0961234567", "external_id": f"order-{index}"}
        with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
            answers[key] = list(pool.map(send, [key] * CONCURRENT, [body] * CONCURRENT))

    for key, responses in answers.items():
        statuses = [r.status_code for r in responses]
        assert all(status < 500 for status in statuses), (key, statuses)
        created = [
            r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
        ]
        replays = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
        in_use = [r for r in responses if r.status_code == 409]
        assert len(created) == 1, (key, statuses)
        assert all(r.content == created[0].content for r in replays)
        assert all(
            r.json()["code"] == "idempotency_key_in_use" and r.headers["Retry-After"]
            for r in in_use
        )
        assert len(created) + len(replays) + len(in_use) == CONCURRENT
    assert Payment.objects.count() == KEYS

    for payment in Payment.objects.all():
        gateway.drive(payment.public_id, final)
    for payment in Payment.objects.all():
        assert payment.status == "SUCCESSFUL"
        assert MtnTransaction.objects.filter(reference_id=payment.provider_reference).count() == 1
