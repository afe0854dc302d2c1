"""Airtel after an outage: the API over real HTTP, the Airtel simulator on loopback with its
fault injection, a real worker and the poller, PostgreSQL.

An ambiguous send (HTTP 500 before or after Airtel recorded the request) leaves the payment
PENDING and enquired. When the enquiry still answers "not found" past the enquiry delay and
its margin, the payments service sends the request again with the same transaction id (under
the payment's lease, while half its window is left), which Airtel refuses if it already has
it: every payment ends final, and none is taken twice at the operator.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import services
from payments.models import Payment
from providers.sandbox.airtel.models import AirtelKind, AirtelTransaction
from providers.sandbox.zamtel.models import ZamtelTransaction
from tests.e2e.conftest import Gateway, drive_all, final

pytestmark = pytest.mark.django_db(transaction=True)

KIND = {"collection": AirtelKind.COLLECTION, "disbursement": AirtelKind.DISBURSEMENT}


@pytest.fixture
def airtel(merchant, settings) -> Gateway:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    return merchant


def _taken_at_airtel(payment: Payment) -> int:
    """How many transactions Airtel holds for this payment: by our id, or by the prompt's
    reference (a resend with a new id would show up there)."""
    rows = AirtelTransaction.objects.filter(kind=KIND[payment.flow])
    by_id = rows.filter(transaction_id=payment.provider_reference.hex).count()
    by_reference = rows.filter(reference=payment.public_id.replace("_", "")).count()
    assert by_id == by_reference
    return by_id


def _sends(payment: Payment) -> list[int | None]:
    """The status codes of the payment's money POSTs, in order."""
    return [
        call.status_code
        for call in payment.provider_calls.order_by("pk")
        if call.operation in ("request_payment", "send_payout")
    ]


@pytest.mark.parametrize("flow", ["collection", "disbursement"])
@pytest.mark.parametrize("msisdn", ["260970000008", "260950000008"])  # Airtel, Zamtel
def test_a_first_attempt_answered_500_is_sent_again_with_its_id_and_succeeds(
    airtel, flow, msisdn
) -> None:
    created = airtel.create(msisdn, flow=flow)  # 500 to the first attempt of an id

    settled = airtel.drive(created["id"], final, within=20)

    assert settled["status"] == "SUCCESSFUL", settled
    payment = Payment.objects.get(public_id=created["id"])
    assert _sends(payment) == [500, 200]
    # The resend restarted the payment's send time (the enquiry delay counts from it).
    resend = payment.provider_calls.filter(status_code=200, method="POST").get()
    assert payment.submitted_at is not None and payment.submitted_at >= resend.created_at
    if payment.provider == "airtel":
        assert _taken_at_airtel(payment) == 1
    else:
        zamtel = ZamtelTransaction.objects.filter(transaction_id=str(payment.provider_reference))
        assert zamtel.count() == 1


def test_after_an_outage_every_airtel_payment_ends_final_and_none_is_charged_twice(
    airtel, settings
) -> None:
    expected: dict[str, tuple[str, str | None]] = {}
    for outage in ("drop", "lose_answer"):
        settings.AIRTEL_SIMULATOR_OUTAGE = outage
        for msisdn, flow, outcome in (
            ("0971234567", "collection", ("SUCCESSFUL", None)),
            ("0971234567", "disbursement", ("SUCCESSFUL", None)),
            ("260970000006", "collection", ("SUCCESSFUL", None)),  # never calls back
            ("260970000002", "collection", ("FAILED", "payer_declined")),
            ("260970000005", "disbursement", ("FAILED", "insufficient_funds")),
        ):
            expected[airtel.create(msisdn, flow=flow)["id"]] = outcome
        airtel.run_jobs()  # every send is answered 500: all stay PENDING
        airtel.run_jobs()  # and the first enquiries do not settle them
    payments = Payment.objects.filter(public_id__in=expected)
    assert {p.status for p in payments} == {"PENDING"}
    # Each was answered 500, or held back by the breaker that the 500s opened.
    assert all(_sends(p)[:1] in ([], [500]) for p in payments)
    assert AirtelTransaction.objects.count() < len(expected)  # the dropped ones are not there

    settings.AIRTEL_SIMULATOR_OUTAGE = "off"
    settled = drive_all(airtel, expected, within=40)

    assert {pid: (p["status"], p["failure_code"]) for pid, p in settled.items()} == expected
    resent = 0
    for payment in Payment.objects.filter(public_id__in=expected):
        assert _taken_at_airtel(payment) == 1, payment.public_id
        resent += len(_sends(payment)) > 1
    assert resent >= 1  # the dropped requests were sent again, with their ids


def test_an_outage_longer_than_the_window_expires_the_payment_with_nothing_taken(
    airtel, settings
) -> None:
    settings.AIRTEL_SIMULATOR_OUTAGE = "drop"
    # Long enough for a resend (only while half the window is left, past the 1 s margin).
    settings.PAYMENT_EXPIRY_SECONDS = 8
    created = airtel.create("0971234567")

    settled = airtel.drive(created["id"], final, within=20)

    assert (settled["status"], settled["failure_code"]) == ("FAILED", "expired")
    payment = Payment.objects.get(public_id=created["id"])
    assert len(_sends(payment)) >= 2  # sent again, with the same id, while Airtel was down
    assert _taken_at_airtel(payment) == 0


@pytest.mark.parametrize("flow", ["collection", "disbursement"])
def test_rechecking_an_expired_payment_the_operator_never_had_sends_nothing(
    airtel, settings, flow
) -> None:
    """The back-office's re-check of a final payment is a question, never a send: Airtel's
    "not found" long after the send is an unknown reference, which only the refresh of a
    PENDING payment may answer with a resend; here it would move money for a payment whose
    status (and a payout's reservation) is already settled."""
    settings.AIRTEL_SIMULATOR_OUTAGE = "drop"
    settings.PAYMENT_EXPIRY_SECONDS = 4
    created = airtel.create("0971234567", flow=flow)
    assert airtel.drive(created["id"], final, within=20)["status"] == "FAILED"
    settings.AIRTEL_SIMULATOR_OUTAGE = "off"  # Airtel is back, and would take a send now
    payment = Payment.objects.get(public_id=created["id"])
    Payment.objects.filter(pk=payment.pk).update(
        submitted_at=timezone.now() - timedelta(days=1)  # far past any enquiry margin
    )
    sends = len(_sends(payment))

    services.compare_with_operator(payment_id=payment.pk)

    payment.refresh_from_db()
    assert payment.status == "FAILED"
    assert len(_sends(payment)) == sends
    assert _taken_at_airtel(payment) == 0


@pytest.mark.parametrize("msisdn", ["260970000008", "260950000008"])  # Airtel, Zamtel
def test_a_lost_request_is_not_sent_again_once_less_than_half_its_window_is_left(
    airtel, settings, msisdn
) -> None:
    """The service's one resend rule holds for every operator: a request sent again late could
    still be live at the operator when the payment expires FAILED."""
    created = airtel.create(msisdn)  # 500 to the first attempt (not stored); a resend is taken
    airtel.run_jobs()  # the submission: 500, outcome unknown
    payment = Payment.objects.get(public_id=created["id"])
    assert payment.submitted_at is not None and _sends(payment) == [500]
    window = timedelta(seconds=settings.PAYMENT_EXPIRY_SECONDS)
    Payment.objects.filter(pk=payment.pk).update(
        submitted_at=timezone.now() - timedelta(days=1),  # far past the enquiry margin
        expires_at=timezone.now() + window * 0.4,
    )
    sends = len(_sends(payment))

    services.refresh_payment(payment_id=payment.pk)  # "not found": an unknown reference

    payment.refresh_from_db()
    assert payment.status == "PENDING"
    assert len(_sends(payment)) == sends  # nothing sent again
    assert payment.provider_calls.filter(outcome="unknown_reference").exists()
