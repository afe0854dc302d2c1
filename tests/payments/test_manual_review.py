"""A payment its operator cannot be asked about (an Airtel refund whose answer was lost) is
never expired: it is flagged for ops, who settle it with a reason through the state machine.

Airtel's HTTP is faked with `responses`: the refund POST hangs past our read timeout, as a
refund does when Airtel takes it and the answer is lost on the way back.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
import responses
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from audit.models import AuditLog
from audit.services import SYSTEM
from gateway.errors import ValidationFailed
from payments import errors, services
from payments.ledger import selectors as ledger_selectors
from payments.ledger.models import Entry, EntryPhase
from payments.models import Flow, Payment, Status
from providers.base import FailureCode
from tests.payments.factories import PaymentFactory, airtel_collection
from tests.providers.airtel.conftest import config
from tests.staff import signed_in

pytestmark = pytest.mark.django_db

BASE = "http://127.0.0.1:1/airtel"  # never reached: `responses` answers every call
REFUND = f"{BASE}/standard/v1/payments/refund"


@pytest.fixture
def airtel(settings):
    settings.AIRTEL = {**settings.AIRTEL, "test": config(BASE, API_VERSION="v1")}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        fake.post(
            f"{BASE}/auth/oauth2/token",
            json={"access_token": "tok", "expires_in": "180", "token_type": "bearer"},
        )
        yield fake


def _available(payment: Payment) -> Decimal:
    balance = ledger_selectors.get_balance(tenant=payment.tenant, mode=payment.mode)
    return balance["available"][0]["amount"]  # type: ignore[index]


def _reserved(payment: Payment) -> Decimal:
    balance = ledger_selectors.get_balance(tenant=payment.tenant, mode=payment.mode)
    return balance["reserved"][0]["amount"]  # type: ignore[index]


def _lost_refund(airtel) -> Payment:
    """A whole refund whose POST reached Airtel and whose answer never came back."""
    airtel.post(REFUND, body=requests.ReadTimeout("read timed out"))
    refund = services.create_refund(payment=airtel_collection(), actor=SYSTEM)
    services.submit_payment(payment_id=refund.pk)
    refund.refresh_from_db()
    return refund


def _calls(airtel, url: str) -> int:
    return sum(call.request.url == url for call in airtel.calls)


def test_a_lost_airtel_refund_answer_is_flagged_for_review_at_once(airtel) -> None:
    refund = _lost_refund(airtel)

    assert refund.status == Status.PENDING
    assert refund.needs_review and refund.next_action == "manual_review"
    assert "no status enquiry" in refund.review_reason
    assert refund.next_poll_at is None  # nothing to poll: Airtel cannot be asked
    assert refund.busy_until is None
    assert [call.error for call in refund.provider_calls.all()] == ["read_timeout"]
    flagged = AuditLog.objects.get(action="payment.review_flagged")
    assert flagged.target_id == str(refund.pk)
    assert _reserved(refund) == refund.amount + refund.fee  # still held, not released


def test_a_flagged_refund_stays_pending_past_its_expiry(airtel, settings) -> None:
    refund = _lost_refund(airtel)
    Payment.objects.filter(pk=refund.pk).update(
        expires_at=timezone.now() - timedelta(seconds=settings.PAYMENT_LEASE_SECONDS + 60),
        next_poll_at=timezone.now() - timedelta(seconds=1),
    )
    sent = len(airtel.calls)

    expired = services.expire_overdue_payments()
    services.refresh_payment(payment_id=refund.pk)  # a callback or ops' re-check

    refund.refresh_from_db()
    assert expired == 0
    assert (refund.status, refund.next_action) == (Status.PENDING, "manual_review")
    assert len(airtel.calls) == sent  # nobody asked Airtel what it cannot answer
    assert _reserved(refund) == refund.amount + refund.fee
    assert AuditLog.objects.filter(action="payment.review_flagged").count() == 1


def test_the_sweep_flags_instead_of_expiring_an_overdue_unflagged_airtel_refund(settings) -> None:
    # e.g. a worker killed during the refund POST: never answered, never flagged.
    collection = airtel_collection()
    refund = services.create_refund(payment=collection, actor=SYSTEM)
    Payment.objects.filter(pk=refund.pk).update(
        expires_at=timezone.now() - timedelta(seconds=settings.PAYMENT_LEASE_SECONDS + 60)
    )
    mtn = PaymentFactory.create(
        expires_at=timezone.now() - timedelta(seconds=settings.PAYMENT_LEASE_SECONDS + 60)
    )

    expired = services.expire_overdue_payments()

    refund.refresh_from_db()
    mtn.refresh_from_db()
    assert expired == 1
    assert (mtn.status, mtn.failure_code) == (Status.FAILED, FailureCode.EXPIRED)
    assert (refund.status, refund.next_action) == (Status.PENDING, "manual_review")


# --- the intent log: a refund whose previous attempt's fate is unknown is never resent -------

REFUNDED = {
    "data": {"transaction": {"airtel_money_id": "MP250101.1300.R1", "status": "SUCCESS"}},
    "status": {"code": "200", "response_code": "DP00800001001", "success": True},
}
ALREADY_REFUNDED = {
    "data": {},
    "status": {"code": "200", "response_code": "DP00800001010", "success": False},
}


class WorkerKilled(BaseException):
    """The process stops during the call: nothing after the send runs (SIGKILL, OOM)."""


def _killed_mid_refund(airtel) -> Payment:
    """A refund whose worker died while its POST was at Airtel; the dead lease has lapsed."""

    def die(request):
        raise WorkerKilled

    airtel.add_callback(responses.POST, REFUND, callback=die)
    refund = services.create_refund(payment=airtel_collection(), actor=SYSTEM)
    with pytest.raises(WorkerKilled):
        services.submit_payment(payment_id=refund.pk)
    Payment.objects.filter(pk=refund.pk).update(busy_until=timezone.now() - timedelta(seconds=1))
    airtel.replace(responses.POST, REFUND, json=ALREADY_REFUNDED)  # what a resend would get
    refund.refresh_from_db()
    return refund


def test_a_refund_whose_worker_died_mid_post_is_flagged_never_sent_again(airtel) -> None:
    refund = _killed_mid_refund(airtel)
    assert refund.send_started_at is not None and refund.submitted_at is None
    assert _calls(airtel, REFUND) == 1

    services.submit_payment(payment_id=refund.pk)  # the recovered job, or the poller's net
    services.submit_payment(payment_id=refund.pk)

    refund.refresh_from_db()
    assert _calls(airtel, REFUND) == 1  # no second POST, whose refusal would read as FAILED
    assert (refund.status, refund.next_action) == (Status.PENDING, "manual_review")
    assert "a previous attempt's outcome is unknown" in refund.review_reason
    assert refund.submitted_at == refund.send_started_at  # it may have reached Airtel then
    assert (refund.next_poll_at, refund.busy_until) == (None, None)
    assert _reserved(refund) == refund.amount + refund.fee  # the money may have left
    assert AuditLog.objects.filter(action="payment.review_flagged").count() == 1
    with pytest.raises(errors.RefundExceedsPayment):
        services.create_refund(payment=refund.refund_of, actor=SYSTEM)  # type: ignore[arg-type]


def test_a_refund_killed_mid_post_is_not_expired_by_the_sweep_or_resent_by_the_poller(
    airtel, settings
) -> None:
    refund = _killed_mid_refund(airtel)
    Payment.objects.filter(pk=refund.pk).update(
        next_poll_at=timezone.now() - timedelta(seconds=1),
        expires_at=timezone.now() - timedelta(seconds=settings.PAYMENT_LEASE_SECONDS + 60),
    )

    services.expire_overdue_payments()  # flags it (no enquiry), does not fail it
    services.poll_due_payments()
    services.submit_payment(payment_id=refund.pk)  # a safety-net submission already queued

    refund.refresh_from_db()
    assert _calls(airtel, REFUND) == 1
    assert (refund.status, refund.next_action) == (Status.PENDING, "manual_review")
    assert _reserved(refund) == refund.amount + refund.fee


def test_a_retryable_refusal_clears_the_intent_so_the_refund_is_sent_again(
    airtel, settings
) -> None:
    settings.AIRTEL_RETRY_ATTEMPTS = 1  # the adapter's own retries would hide the refusal
    airtel.post(REFUND, status=503, json={"error": "Service Unavailable"})
    refund = services.create_refund(payment=airtel_collection(), actor=SYSTEM)

    services.submit_payment(payment_id=refund.pk)

    refund.refresh_from_db()
    assert (refund.status, refund.send_started_at, refund.submitted_at) == (
        Status.PENDING,
        None,
        None,
    )
    assert not refund.needs_review and refund.submit_attempts == 1
    airtel.replace(responses.POST, REFUND, json=REFUNDED)

    services.submit_payment(payment_id=refund.pk)  # the retry the 503 scheduled

    refund.refresh_from_db()
    assert _calls(airtel, REFUND) == 2
    assert (refund.status, refund.provider_transaction_id) == (
        Status.SUCCESSFUL,
        "MP250101.1300.R1",
    )
    assert _reserved(refund) == 0


def test_an_answered_refund_is_settled_by_its_answer_as_before(airtel) -> None:
    airtel.post(REFUND, json=REFUNDED)
    refund = services.create_refund(payment=airtel_collection(), actor=SYSTEM)
    available_before = _available(refund)

    services.submit_payment(payment_id=refund.pk)
    services.submit_payment(payment_id=refund.pk)  # a duplicate job: the payment is final

    refund.refresh_from_db()
    assert _calls(airtel, REFUND) == 1
    assert (refund.status, refund.next_action) == (Status.SUCCESSFUL, None)
    assert refund.send_started_at is not None  # superseded by the final status
    assert _available(refund) == available_before and _reserved(refund) == 0


def test_a_refused_refund_fails_on_its_first_answer_as_before(airtel) -> None:
    airtel.post(REFUND, json=ALREADY_REFUNDED)
    refund = services.create_refund(payment=airtel_collection(), actor=SYSTEM)

    services.submit_payment(payment_id=refund.pk)

    refund.refresh_from_db()
    assert _calls(airtel, REFUND) == 1
    assert (refund.status, refund.needs_review) == (Status.FAILED, False)
    assert _reserved(refund) == 0  # nothing was sent before this refusal: trusted


def test_operations_the_operator_can_be_asked_about_log_no_intent(airtel) -> None:
    airtel.post(
        f"{BASE}/merchant/v1/payments/",
        json={
            "data": {"transaction": {"id": "x", "status": "SUCCESS"}},
            "status": {"code": "200", "response_code": "DP00800001006", "success": True},
        },
    )
    collection = PaymentFactory.create(provider="airtel", msisdn="260971234567")

    services.submit_payment(payment_id=collection.pk)

    collection.refresh_from_db()
    assert collection.submitted_at is not None and collection.send_started_at is None


def test_a_second_refund_is_refused_while_one_is_flagged(airtel) -> None:
    refund = _lost_refund(airtel)
    original = refund.refund_of
    assert original is not None

    with pytest.raises(errors.RefundExceedsPayment):
        services.create_refund(payment=original, actor=SYSTEM)
    with pytest.raises(errors.RefundExceedsPayment):
        services.create_refund(payment=original, actor=SYSTEM, amount=Decimal("1.00"))
    assert original.refunds.count() == 1


def test_ops_settle_a_flagged_refund_successful_and_the_reservation_is_posted(
    airtel, ops_actor
) -> None:
    refund = _lost_refund(airtel)
    available_before = _available(refund)

    services.resolve_review(
        payment=refund,
        status=Status.SUCCESSFUL,
        reason="Airtel portal: refund MP250101.1300.R1 paid back on 1 Jan",
        provider_transaction_id="MP250101.1300.R1",
        actor=ops_actor,
    )

    refund.refresh_from_db()
    assert (refund.status, refund.provider_transaction_id) == (
        Status.SUCCESSFUL,
        "MP250101.1300.R1",
    )
    assert refund.next_action is None and refund.completed_at is not None
    assert _available(refund) == available_before  # the money had already left it
    assert _reserved(refund) == 0
    phases = set(Entry.objects.filter(payment=refund).values_list("phase", flat=True))
    assert phases == {EntryPhase.PENDING, EntryPhase.POST_PENDING}
    resolved = AuditLog.objects.get(action="payment.review_resolved")
    assert resolved.data["reason"].startswith("Airtel portal")
    assert (resolved.actor_kind, resolved.actor_label) == ("user", ops_actor.label)
    assert AuditLog.objects.get(action="payment.successful").actor_label == ops_actor.label
    with pytest.raises(errors.RefundExceedsPayment):  # refunded: nothing left to refund
        services.create_refund(payment=refund.refund_of, actor=SYSTEM)  # type: ignore[arg-type]


def test_ops_settle_a_flagged_refund_failed_and_the_merchant_may_refund_again(
    airtel, ops_actor
) -> None:
    refund = _lost_refund(airtel)
    available_before = _available(refund)

    services.resolve_review(
        payment=refund,
        status=Status.FAILED,
        reason="Airtel support ticket 4411: the refund was never processed",
        actor=ops_actor,
    )

    refund.refresh_from_db()
    assert (refund.status, refund.failure_code) == (Status.FAILED, FailureCode.PROVIDER_ERROR)
    assert "ticket 4411" in refund.failure_message
    assert _available(refund) == available_before + refund.amount + refund.fee
    assert _reserved(refund) == 0
    again = services.create_refund(payment=refund.refund_of, actor=SYSTEM)  # type: ignore[arg-type]
    assert (again.flow, again.status) == (Flow.REFUND, Status.PENDING)


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_review_without_a_reason_is_refused_and_changes_nothing(
    airtel, reason, ops_actor
) -> None:
    refund = _lost_refund(airtel)
    audit_rows = AuditLog.objects.count()

    with pytest.raises(ValidationFailed):
        services.resolve_review(
            payment=refund, status=Status.SUCCESSFUL, reason=reason, actor=ops_actor
        )

    refund.refresh_from_db()
    assert refund.needs_review and AuditLog.objects.count() == audit_rows


def test_only_a_flagged_pending_payment_can_be_settled_by_review(ops_actor) -> None:
    pending = PaymentFactory.create()  # MTN: its poller decides, not ops

    with pytest.raises(errors.PaymentNotUnderReview):
        services.resolve_review(
            payment=pending, status=Status.SUCCESSFUL, reason="looks paid", actor=ops_actor
        )

    pending.refresh_from_db()
    assert pending.status == Status.PENDING


def test_the_api_and_metrics_show_a_flagged_refund(airtel, client_for) -> None:
    from tests.tenants.factories import issue_key

    refund = _lost_refund(airtel)
    issued = issue_key(tenant=refund.tenant)

    body = client_for(issued.secret).get(f"/api/v1/payments/{refund.public_id}").json()
    metrics = Client().get("/metrics").content.decode()

    assert (body["status"], body["next_action"]) == ("PENDING", "manual_review")
    assert (
        'gateway_payments_needing_review{flow="refund",mode="test",provider="airtel"} 1.0'
        in metrics
    )
    # Still pending, but waiting for ops by design: not an expiry alert's business.
    assert 'gateway_payments_pending{mode="test",provider="airtel"} 1.0' in metrics
    # Every series is present, at 0 when nothing counts: the flagged refund is left out.
    assert 'gateway_payment_oldest_pending_seconds{mode="test",provider="airtel"} 0.0' in metrics
    assert 'gateway_payments_overdue{mode="test",provider="airtel"} 0.0' in metrics


# --- the admin ----------------------------------------------------------------------------


def test_the_admin_lists_flagged_payments_and_settles_one_with_a_reason(airtel, staff) -> None:
    refund = _lost_refund(airtel)
    other = PaymentFactory.create()

    listed = staff.get("/admin/payments/payment/", {"review": "needed"}).content.decode()
    page = staff.get(f"/admin/payments/payment/{refund.pk}/change/").content.decode()
    chosen = staff.post(
        "/admin/payments/payment/",
        {"action": "resolve_review", "_selected_action": [refund.pk]},
    )
    form_url = f"/admin/payments/payment/{refund.pk}/resolve-review/"
    form = staff.get(form_url).content.decode()
    no_reason = staff.post(form_url, {"status": "SUCCESSFUL", "reason": ""})
    refund.refresh_from_db()
    assert refund.needs_review  # refused: nothing changed
    done = staff.post(
        form_url,
        {
            "status": "SUCCESSFUL",
            "reason": "Airtel statement line 12",
            "provider_transaction_id": "",
        },
    )

    assert refund.public_id in listed and other.public_id not in listed
    assert "manual_review" in page and "no status enquiry" in page and form_url in page
    assert chosen.status_code == 302 and chosen["Location"] == form_url
    assert "read_timeout" in form and "Settle the payment" in form
    assert no_reason.status_code == 200 and "This field is required" in no_reason.content.decode()
    assert done.status_code == 302
    refund.refresh_from_db()
    assert refund.status == Status.SUCCESSFUL
    assert AuditLog.objects.get(action="payment.review_resolved").data["reason"] == (
        "Airtel statement line 12"
    )


def test_settling_a_review_needs_its_own_permission(airtel) -> None:
    refund = _lost_refund(airtel)
    user = get_user_model().objects.create_user("support", password="a-long-password")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client = signed_in(user)
    form_url = f"/admin/payments/payment/{refund.pk}/resolve-review/"

    refused = client.post(form_url, {"status": "FAILED", "reason": "guess"})
    actions = client.get("/admin/payments/payment/").content.decode()

    assert refused.status_code == 403
    assert "resolve_review" not in actions
    refund.refresh_from_db()
    assert refund.needs_review
