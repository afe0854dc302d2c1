"""Zamtel end to end: the API over real HTTP, the Zamtel simulator on loopback, a real worker
and the poller; the simulator's signed callback reaches the payment's own URL."""

from __future__ import annotations

import pytest

from payments.models import Payment
from tests.e2e.conftest import final
from webhooks.models import CallbackOutcome, InboundCallback

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def zamtel(gateway, live_server, settings):
    settings.ZAMTEL = {
        **settings.ZAMTEL,
        "test": {**settings.ZAMTEL["test"], "BASE_URL": f"{live_server.url}/sandbox/zamtel"},
    }
    settings.ZAMTEL_SIMULATOR_CALLBACK_DELAY_SECONDS = 0.5
    settings.ZAMTEL_READ_TIMEOUT_PAYMENT = 1.0
    settings.ZAMTEL_SIMULATOR_SLOW_SECONDS = 2.0
    settings.ZAMTEL_RETRY_INITIAL_SECONDS = 0.05
    settings.ZAMTEL_RETRY_MAX_SECONDS = 0.1
    return gateway


@pytest.mark.parametrize("flow", ["collection", "disbursement"])
def test_a_zamtel_payment_reaches_successful_through_its_signed_callback(zamtel, flow) -> None:
    created = zamtel.create("0951234567", flow=flow)
    assert (created["status"], created["provider"]) == ("PENDING", "zamtel")

    settled = zamtel.drive(created["id"], final)

    assert settled["status"] == "SUCCESSFUL"
    assert settled["provider_transaction_id"].startswith("ZT")
    payment = Payment.objects.get(public_id=created["id"])
    callback = InboundCallback.objects.get(payment=payment)
    assert callback.signature_valid is True
    assert callback.outcome == CallbackOutcome.REFRESH_REQUESTED


@pytest.mark.parametrize(
    ("msisdn", "failure_code"),
    [
        ("260950000001", "payer_not_found"),
        ("260950000002", "payer_declined"),
        ("260950000003", "expired"),
        ("260950000005", "insufficient_funds"),
    ],
)
def test_failing_zamtel_numbers_reach_failed_with_their_code(zamtel, msisdn, failure_code) -> None:
    settled = zamtel.drive(zamtel.create(msisdn)["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", failure_code)


def test_a_zamtel_collection_is_refunded_in_part(zamtel) -> None:
    collected = zamtel.drive(zamtel.create("0951234567")["id"], final)
    assert collected["status"] == "SUCCESSFUL"

    response = zamtel.session.post(
        f"{zamtel.base_url}/api/v1/payments/{collected['id']}/refund",
        json={"amount": "50.00"},
        timeout=10,
    )
    assert response.status_code in (200, 201, 202), response.text
    refund = zamtel.drive(response.json()["id"], final)

    assert (refund["status"], refund["amount"]) == ("SUCCESSFUL", "50.00")
