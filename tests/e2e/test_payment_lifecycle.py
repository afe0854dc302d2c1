"""Collections and disbursements end to end: the API over real HTTP, the MTN simulator on
loopback, a real Procrastinate worker and the poller, all against PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection, connections

from audit.models import AuditLog
from payments import services
from payments.models import Payment
from providers.base import Operation
from providers.models import OperatorConfig
from providers.mtn.adapter import MtnAdapter
from providers.sandbox.models import MtnTransaction
from tenants.models import ApiKey
from tests.e2e.conftest import final
from webhooks.models import CallbackOutcome, InboundCallback

pytestmark = pytest.mark.django_db(transaction=True)


def _transitions(public_id: str) -> int:
    payment = Payment.objects.get(public_id=public_id)
    return AuditLog.objects.filter(
        target_id=str(payment.pk), action__in=["payment.successful", "payment.failed"]
    ).count()


@pytest.mark.parametrize("flow", ["collection", "disbursement"])
def test_payment_reaches_successful_through_the_callback(gateway, flow) -> None:
    created = gateway.create("0961234567", flow=flow)
    assert created["status"] == "PENDING"

    settled = gateway.drive(created["id"], final)

    assert settled["status"] == "SUCCESSFUL"
    assert settled["provider_transaction_id"]
    payment = Payment.objects.get(public_id=created["id"])
    callback = InboundCallback.objects.get(payment=payment)
    assert callback.outcome == CallbackOutcome.REFRESH_REQUESTED
    assert [c.operation for c in payment.provider_calls.all()] == [
        "request_payment" if flow == "collection" else "send_payout",
        "fetch_status",
    ]
    assert _transitions(created["id"]) == 1


@pytest.mark.parametrize(
    ("msisdn", "failure_code"),
    [
        ("260960000001", "payer_not_found"),
        ("260960000002", "payer_declined"),
        ("260960000003", "expired"),
        ("260960000005", "insufficient_funds"),
    ],
)
def test_failing_numbers_reach_failed_with_their_code(gateway, msisdn, failure_code) -> None:
    created = gateway.create(msisdn)

    settled = gateway.drive(created["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", failure_code)


def test_unavailable_operator_fails_provider_unavailable(gateway, settings) -> None:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [0]
    settings.PAYMENT_SUBMIT_MAX_ATTEMPTS = 2

    settled = gateway.drive(gateway.create("260960000009")["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", "provider_unavailable")


def test_pending_forever_expires_at_the_gateway(gateway, settings) -> None:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    settings.PAYMENT_EXPIRY_SECONDS = 3

    settled = gateway.drive(gateway.create("260960000004")["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", "expired")


def test_silent_success_is_settled_by_the_poller(gateway, settings) -> None:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    created = gateway.create("260960000006")

    settled = gateway.drive(created["id"], final)

    assert settled["status"] == "SUCCESSFUL"
    assert not InboundCallback.objects.exists()


def test_timeout_on_submit_is_settled_with_exactly_one_request_to_pay(gateway, settings) -> None:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    created = gateway.create("260960000007")

    gateway.run_jobs()
    assert gateway.get(created["id"])["status"] == "PENDING"
    settled = gateway.drive(created["id"], final)

    assert settled["status"] == "SUCCESSFUL"
    reference = Payment.objects.get(public_id=created["id"]).provider_reference
    assert MtnTransaction.objects.filter(reference_id=reference).count() == 1


def _callback_url(public_id: str, base_url: str) -> str:
    token = Payment.objects.get(public_id=public_id).callback_token
    return f"{base_url}/api/v1/webhooks/mtn/{token}"


def test_forged_callback_changes_nothing(gateway) -> None:
    created = gateway.create("260960000004")  # the operator keeps it PENDING
    gateway.run_jobs()
    forged = {
        "externalId": created["id"],
        "amount": "150",
        "currency": "ZMW",
        "status": "SUCCESSFUL",
        "financialTransactionId": "1",
    }

    answer = requests.post(_callback_url(created["id"], gateway.base_url), json=forged, timeout=10)
    gateway.run_jobs()

    assert answer.status_code == 200
    assert gateway.get(created["id"])["status"] == "PENDING"
    assert InboundCallback.objects.get().claimed_status == "successful"


def test_twenty_repeats_of_a_real_callback_make_one_transition(gateway) -> None:
    created = gateway.create("260960000006")  # succeeds at MTN, never calls back by itself
    gateway.run_jobs()
    reference = Payment.objects.get(public_id=created["id"]).provider_reference
    adapter = MtnAdapter(mode="test")
    time.sleep(0.6)
    truth = adapter.client.call(
        Operation.FETCH_STATUS,
        "collection",
        "GET",
        f"/collection/v1_0/requesttopay/{reference}",
        read_timeout=5,
    ).body
    assert truth["status"] == "SUCCESSFUL"
    url = _callback_url(created["id"], gateway.base_url)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(
            pool.map(lambda _: requests.post(url, json=truth, timeout=10).status_code, range(20))
        )
    settled = gateway.drive(created["id"], final)

    assert answers == [200] * 20
    assert settled["status"] == "SUCCESSFUL"
    assert _transitions(created["id"]) == 1
    assert InboundCallback.objects.count() == 20


def test_unknown_token_is_404_and_bad_signature_401(gateway, settings) -> None:
    created = gateway.create("260960000004")
    url = _callback_url(created["id"], gateway.base_url)

    unknown = requests.post(
        f"{gateway.base_url}/api/v1/webhooks/mtn/nope", json={"status": "SUCCESSFUL"}, timeout=10
    )
    settings.MTN_WEBHOOK_SECRET = "s3cret"
    unsigned = requests.put(url, json={"status": "SUCCESSFUL"}, timeout=10)

    assert unknown.status_code == 404
    assert unsigned.status_code == 401
    assert unsigned.headers["Content-Type"] == "application/problem+json"


# Per operator: the numbers (collections and payouts) whose paths cover a callback, polling,
# a refusal and, for Airtel, a resend with the same id; "fallback" is the ported number whose
# account lookups (MTN says not registered, Airtel knows it) choose the route.
WATCHED = {
    "mtn": ["0961234567", "260960000006", "260960000001"],
    "airtel": ["0971234567", "260970000006", "260970000008", "260970000002"],
    "zamtel": ["0951234567", "260950000006", "260950000008", "260950000001"],
    "fallback": ["260960000012"],
}


@pytest.mark.parametrize("operator", sorted(WATCHED))
def test_no_operator_call_happens_inside_a_database_transaction(
    merchant, monkeypatch, settings, operator
) -> None:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    if operator == "fallback":
        tenant = ApiKey.objects.get().tenant
        OperatorConfig.objects.create(
            tenant=tenant, mode="test", provider="mtn", allow_fallback=True
        )
    seen: list[tuple[str, bool]] = []
    real_send = requests.Session.send

    def watching_send(self, request, **kwargs):
        # The calling thread's own Django connection: is it inside a transaction right now?
        seen.append((request.url, connection.in_atomic_block))
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", watching_send)
    for msisdn in WATCHED[operator]:
        for flow in ("collection", "disbursement"):
            settled = merchant.drive(merchant.create(msisdn, flow=flow)["id"], final)
            assert final(settled), (msisdn, flow, settled)

    operator_calls = [(url, in_tx) for url, in_tx in seen if "/sandbox/" in url]
    assert [url for url, in_tx in operator_calls if in_tx] == []
    paths = {url.split("/sandbox/")[1].split("/")[0] for url, _ in operator_calls}
    assert paths == ({"mtn", "airtel"} if operator == "fallback" else {operator})
    if operator == "fallback":  # the lookups were among the watched calls
        assert any("/accountholder/" in url for url, _ in operator_calls)
        assert any("/standard/v1/users/" in url for url, _ in operator_calls)


def test_two_concurrent_refreshers_never_ask_about_one_payment_at_once(
    gateway, monkeypatch
) -> None:
    created = gateway.create("260960000004")
    gateway.run_jobs()
    payment_id = Payment.objects.get(public_id=created["id"]).pk
    in_flight, peak, lock = 0, 0, threading.Lock()
    real_fetch = MtnAdapter.fetch_status

    def slow_fetch(self, instruction):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            time.sleep(0.3)
            return real_fetch(self, instruction)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(MtnAdapter, "fetch_status", slow_fetch)

    def refresh_repeatedly(_: int) -> None:
        for _ in range(3):
            services.refresh_payment(payment_id=payment_id)
        connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(refresh_repeatedly, range(8)))

    assert peak == 1
    assert (
        Payment.objects.get(pk=payment_id).provider_calls.filter(operation="fetch_status").exists()
    )


def test_payout_without_operator_funds_fails_insufficient_funds(gateway) -> None:
    settled = gateway.drive(gateway.create("260960000005", flow="disbursement")["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", "insufficient_funds")


def test_account_holder_lookup(gateway) -> None:
    active = gateway.session.get(f"{gateway.base_url}/api/v1/accounts/0961234567", timeout=10)
    unknown = gateway.session.get(f"{gateway.base_url}/api/v1/accounts/260960000001", timeout=10)
    invalid = gateway.session.get(f"{gateway.base_url}/api/v1/accounts/0211234567", timeout=10)

    assert active.status_code == 200
    assert active.json()["active"] is True and active.json()["provider"] == "mtn"
    assert active.json()["given_name"]
    assert unknown.json()["active"] is False
    assert invalid.status_code == 400


def test_refund_of_a_collection_end_to_end(gateway) -> None:
    collected = gateway.drive(gateway.create("0961234567")["id"], final)
    assert collected["status"] == "SUCCESSFUL"

    response = gateway.session.post(
        f"{gateway.base_url}/api/v1/payments/{collected['id']}/refund",
        json={"amount": "50.00"},
        headers={"Idempotency-Key": "refund-1"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    refund = gateway.drive(response.json()["id"], final)

    assert (refund["flow"], refund["status"], refund["refund_of"]) == (
        "refund",
        "SUCCESSFUL",
        collected["id"],
    )
    assert refund["amount"] == "50.00"
    calls = Payment.objects.get(public_id=refund["id"]).provider_calls.all()
    assert calls[0].operation == "refund"
    assert calls[0].request_body is not None
    assert calls[0].request_body["referenceIdToRefund"] == str(
        Payment.objects.get(public_id=collected["id"]).provider_reference
    )
