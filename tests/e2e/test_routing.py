"""Routing over real HTTP: the simulators on loopback, the API on a live server, real jobs.

- a payout to a CLOSED operator is queued, never sent, and completes once the operator
  recovers; a cancelled one ends FAILED `cancelled` without any operator call, and a cancel
  racing the release ends in exactly one of the two outcomes;
- a number the predicted operator does not know goes, with fallback allowed, to the operator
  whose account lookup knows it, before anything is submitted; without fallback it fails
  `payer_not_found`.
"""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal

import pytest
import requests
from django.core.cache import cache
from django.db import connection

from audit.services import SYSTEM
from payments import availability, services
from payments.ledger import checks as ledger_checks
from payments.ledger import selectors as ledger_selectors
from payments.ledger.models import Entry, FeeSchedule
from payments.models import Payment, Transaction
from providers.models import OperatorConfig
from providers.sandbox.airtel.models import AirtelTransaction
from providers.sandbox.models import MtnTransaction
from providers.sandbox.zamtel.models import ZamtelTransaction
from tests.e2e.conftest import final

pytestmark = pytest.mark.django_db(transaction=True)

PORTED = "260960000012"  # MTN prefix, wallet at Airtel (README, "Test numbers")


@pytest.fixture
def routed(gateway, live_server, settings):
    settings.AIRTEL = {
        **settings.AIRTEL,
        "test": {
            **settings.AIRTEL["test"],
            "BASE_URL": f"{live_server.url}/sandbox/airtel",
            "ENQUIRY_DELAY_SECONDS": "0",
        },
    }
    settings.ZAMTEL = {
        **settings.ZAMTEL,
        "test": {**settings.ZAMTEL["test"], "BASE_URL": f"{live_server.url}/sandbox/zamtel"},
    }
    settings.AIRTEL_SIMULATOR_CALLBACK_DELAY_SECONDS = 0.3
    settings.ZAMTEL_SIMULATOR_CALLBACK_DELAY_SECONDS = 0.3
    settings.PAYMENT_QUEUE_RECHECK_SECONDS = 0  # the poller asks at once, each run
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]  # settle by polling, whoever calls back
    cache.clear()
    return gateway


def _close(operation: str = "disbursement", provider: str = "mtn"):
    return availability.set_override(
        provider=provider,
        mode="test",
        operation=operation,
        state="CLOSED",
        reason="test: the operator is down",
        expires_at=None,
        actor=SYSTEM,
    )


def _post(gateway, path: str, **headers) -> requests.Response:
    return gateway.session.post(f"{gateway.base_url}{path}", json={}, headers=headers, timeout=10)


def _operator_saw(payment: Payment) -> bool:
    return MtnTransaction.objects.filter(reference_id=payment.provider_reference).exists()


def _seen_by(provider: str, payment: Payment) -> bool:
    """Whether the operator's simulator ever received the payment."""
    return {
        "mtn": lambda: _operator_saw(payment),
        "airtel": AirtelTransaction.objects.filter(
            transaction_id=payment.provider_reference.hex
        ).exists,
        "zamtel": ZamtelTransaction.objects.filter(
            transaction_id=str(payment.provider_reference)
        ).exists,
    }[provider]()


@pytest.mark.parametrize(
    ("provider", "msisdn"),
    [("mtn", "0961234567"), ("airtel", "0971234567"), ("zamtel", "0951234567")],
)
def test_a_payout_to_a_closed_operator_is_queued_and_completes_after_recovery(
    routed, provider, msisdn
) -> None:
    override = _close(provider=provider)
    created = routed.create(msisdn, flow="disbursement")
    assert (created["status"], created["next_action"], created["provider"]) == (
        "PENDING",
        "queued",
        provider,
    )

    still = routed.drive(created["id"], final, within=2)  # jobs and poller run: nothing sent
    payment = Payment.objects.get(public_id=created["id"])
    assert still["next_action"] == "queued" and payment.submitted_at is None
    assert not Transaction.objects.filter(payment=payment).exists()
    assert not _seen_by(provider, payment)

    availability.end_override(override=override, actor=SYSTEM)  # the operator recovers
    settled = routed.drive(created["id"], final)

    assert (settled["status"], settled["next_action"]) == ("SUCCESSFUL", None)
    assert _seen_by(provider, payment)


def test_a_cancelled_queued_payout_fails_cancelled_and_never_reaches_the_operator(routed) -> None:
    _close()
    created = routed.create("0961234567", flow="disbursement")
    payment = Payment.objects.get(public_id=created["id"])
    tenant = payment.tenant
    before: dict[str, object] = ledger_selectors.get_balance(tenant=tenant, mode="test")
    key = str(uuid.uuid4())

    cancelled = _post(
        routed, f"/api/v1/payments/{created['id']}/cancel", **{"Idempotency-Key": key}
    )
    replayed = _post(routed, f"/api/v1/payments/{created['id']}/cancel", **{"Idempotency-Key": key})
    again = _post(routed, f"/api/v1/payments/{created['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["failure_code"]) == ("FAILED", "cancelled")
    assert (
        replayed.headers["Idempotent-Replayed"] == "true" and replayed.content == cancelled.content
    )
    assert again.status_code == 409 and again.json()["code"] == "payment_not_cancellable"
    routed.drive(created["id"], lambda _: False, within=1.5)  # jobs and the poller run
    payment.refresh_from_db()
    assert payment.failure_code == "cancelled" and payment.submitted_at is None
    assert not Transaction.objects.filter(payment=payment).exists() and not _operator_saw(payment)
    after = ledger_selectors.get_balance(tenant=tenant, mode="test")
    assert before["reserved"] != after["reserved"]
    assert after["reserved"] == [{"currency": "ZMW", "amount": Decimal("0.00")}]
    assert after["available"] == [{"currency": "ZMW", "amount": Decimal("10000.00")}]


def test_a_payment_already_sent_is_not_cancellable(routed) -> None:
    created = routed.create("0961234567", flow="disbursement")
    routed.drive(created["id"], lambda p: p["provider_reference"] and _sent(p["id"]))

    response = _post(routed, f"/api/v1/payments/{created['id']}/cancel")

    assert response.status_code == 409 and response.json()["code"] == "payment_not_cancellable"


def _sent(public_id: str) -> bool:
    return Payment.objects.filter(public_id=public_id, submitted_at__isnull=False).exists()


def test_a_cancel_racing_the_release_ends_in_exactly_one_outcome(routed) -> None:
    outcomes = []
    # The cancel starts with the release, or a little after it: the early rounds are won by
    # the cancel, the late ones by the release; each must end in exactly one outcome.
    for delay in (0, 0, 0.01, 0.03, 0.1, 0.3):
        override = _close()
        created = routed.create("0961234567", flow="disbursement")
        payment = Payment.objects.get(public_id=created["id"])
        availability.end_override(override=override, actor=SYSTEM)
        cache.clear()
        barrier = threading.Barrier(2)
        answers: dict[str, object] = {}

        def release(pk: int = payment.pk, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                services.submit_payment(payment_id=pk)
            finally:
                connection.close()

        def cancel(
            public_id: str = created["id"],
            barrier: threading.Barrier = barrier,
            answers: dict[str, object] = answers,
            delay: float = delay,
        ) -> None:
            barrier.wait()
            time.sleep(delay)
            answers["cancel"] = _post(routed, f"/api/v1/payments/{public_id}/cancel").status_code

        threads = [threading.Thread(target=release), threading.Thread(target=cancel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        payment.refresh_from_db()
        sent = _operator_saw(payment)
        if answers["cancel"] == 200:
            assert payment.failure_code == "cancelled" and payment.submitted_at is None
            assert not sent and not Transaction.objects.filter(payment=payment).exists()
            outcomes.append("cancelled")
        else:
            assert answers["cancel"] == 409
            assert payment.queued_at is None and payment.submitted_at is not None and sent
            assert payment.failure_code != "cancelled"
            outcomes.append("sent")
    assert set(outcomes) == {"cancelled", "sent"} and len(outcomes) == 6
    print("race outcomes:", outcomes)  # noqa: T201  # which side won, for the record


def _configure_fallback(tenant, allow: bool = True) -> None:
    OperatorConfig.objects.create(tenant=tenant, mode="test", provider="mtn", allow_fallback=allow)


def _tenant_of(gateway):
    from tenants.models import ApiKey

    return ApiKey.objects.get().tenant


def test_a_ported_number_goes_to_the_operator_that_knows_it_with_fallback(routed) -> None:
    _configure_fallback(_tenant_of(routed))

    created = routed.create(PORTED)
    assert created["routing"]["reason"] == "lookup_pending" and created["provider"] == "mtn"
    settled = routed.drive(created["id"], final)

    assert settled["status"] == "SUCCESSFUL", settled
    assert settled["provider"] == "airtel"
    assert settled["routing"] == {
        "predicted": "mtn",
        "chosen": "airtel",
        "reason": "fallback",
        "lookups": {"mtn": "not_registered", "airtel": "registered"},
    }
    payment = Payment.objects.get(public_id=created["id"])
    calls = list(payment.provider_calls.values_list("provider", "operation"))
    # The lookups come first, and nothing was ever submitted to MTN.
    assert calls[0] == ("mtn", "account_holder") and ("airtel", "account_holder") in calls
    assert ("mtn", "request_payment") not in calls and ("airtel", "request_payment") in calls
    assert not _operator_saw(payment)
    assert AirtelTransaction.objects.exists()


def test_a_ported_payout_goes_to_the_operator_that_knows_it_and_its_reservation_moves(
    routed,
) -> None:
    tenant = _tenant_of(routed)
    _configure_fallback(tenant)
    for provider, fixed in (("mtn", "2.00"), ("airtel", "5.00")):
        FeeSchedule.objects.create(
            tenant=tenant, provider=provider, flow="disbursement", fixed=Decimal(fixed)
        )

    created = routed.create(PORTED, flow="disbursement")
    assert (created["provider"], created["fee"]) == ("mtn", "2.00")
    assert routed.balance() == (Decimal("9848.00"), Decimal("152.00"))  # reserved for MTN
    settled = routed.drive(created["id"], final)

    assert (settled["status"], settled["provider"], settled["fee"]) == (
        "SUCCESSFUL",
        "airtel",
        "5.00",
    )
    assert settled["routing"]["reason"] == "fallback"
    payment = Payment.objects.get(public_id=created["id"])
    entries = {
        (entry.code, entry.phase, entry.credit_account.provider or entry.credit_account.kind)
        for entry in Entry.objects.filter(payment=payment).select_related("credit_account")
    }
    assert entries == {
        ("payout", "pending", "mtn"),
        ("fee", "pending", "fees"),
        ("payout:moved", "void", "mtn"),  # MTN's reservation returned …
        ("fee:moved", "void", "fees"),
        ("payout@airtel", "pending", "airtel"),  # … and made again towards Airtel's float
        ("fee@airtel", "pending", "fees"),
        ("payout@airtel:post", "post", "airtel"),
        ("fee@airtel:post", "post", "fees"),
    }
    assert routed.balance() == (Decimal("9845.00"), Decimal("0.00"))
    assert ledger_checks.find_breaches() == []
    assert not _operator_saw(payment)
    assert AirtelTransaction.objects.filter(transaction_id=payment.provider_reference.hex).exists()


def test_a_ported_payout_whose_fee_elsewhere_does_not_fit_fails_with_nothing_sent(
    routed,
) -> None:
    tenant = _tenant_of(routed)
    _configure_fallback(tenant)
    FeeSchedule.objects.create(
        tenant=tenant, provider="airtel", flow="disbursement", fixed=Decimal("100.00")
    )
    created = routed.create(PORTED, flow="disbursement", amount="9950.00")  # all but 50

    settled = routed.drive(created["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", "insufficient_funds")
    assert settled["provider"] == "mtn"  # never moved; its reservation is voided where it was
    assert routed.balance() == (Decimal("10000.00"), Decimal("0.00"))
    assert ledger_checks.find_breaches() == []
    assert not AirtelTransaction.objects.exists()
    assert not _operator_saw(Payment.objects.get(public_id=created["id"]))


@pytest.mark.parametrize("flow", ["collection", "disbursement"])
def test_without_fallback_a_ported_number_fails_payer_not_found_at_the_predicted_one(
    routed, flow
) -> None:
    settled = routed.drive(routed.create(PORTED, flow=flow)["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", "payer_not_found")
    assert settled["provider"] == "mtn" and settled["routing"]["reason"] == "prefix"


def test_a_number_no_operator_knows_fails_payer_not_found_before_any_submission(routed) -> None:
    _configure_fallback(_tenant_of(routed))

    settled = routed.drive(routed.create("260960000001")["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", "payer_not_found")
    assert settled["routing"]["reason"] == "not_registered"
    assert settled["routing"]["lookups"] == {
        "mtn": "not_registered",
        "airtel": "not_registered",
        "zamtel": "not_registered",
    }
    payment = Payment.objects.get(public_id=settled["id"])
    assert set(payment.provider_calls.values_list("operation", flat=True)) == {"account_holder"}


def test_a_disabled_operator_is_not_asked(routed) -> None:
    tenant = _tenant_of(routed)
    _configure_fallback(tenant)
    OperatorConfig.objects.create(tenant=tenant, mode="test", provider="airtel", enabled=False)

    settled = routed.drive(routed.create(PORTED)["id"], final)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", "payer_not_found")
    assert "airtel" not in settled["routing"]["lookups"]
