"""The payment lifecycle against MTN's HTTP behaviour, faked with `responses`."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from audit.models import AuditLog
from audit.services import SYSTEM
from payments import errors, failures, services
from payments.models import Flow, Payment, Status
from providers.base import FailureCode, Outcome, ProviderResult
from tests.payments.factories import PaymentFactory, fund
from tests.providers.mtn.fake import mtn_with_tokens
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db

BASE = settings.MTN["test"]["BASE_URL"]
RTP = f"{BASE}/collection/v1_0/requesttopay"


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.MTN_RETRY_INITIAL_SECONDS = 0
    settings.MTN_RETRY_MAX_SECONDS = 0


@pytest.fixture
def mtn():
    with mtn_with_tokens(BASE) as fake:
        yield fake


def _requests_to_pay(mtn) -> list:
    return [c for c in mtn.calls if c.request.url == RTP]


def test_accepted_submission_stays_pending_with_a_poll_scheduled(mtn) -> None:
    mtn.post(RTP, status=202)
    payment = PaymentFactory.create()

    services.submit_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert payment.status == Status.PENDING
    assert payment.submitted_at is not None and payment.busy_until is None
    assert payment.next_poll_at is not None and payment.next_poll_at > timezone.now()
    [call] = payment.provider_calls.all()
    assert (call.operation, call.status_code, call.outcome) == ("request_payment", 202, "pending")
    assert call.request_headers["Authorization"] == "[redacted]"
    assert _requests_to_pay(mtn)[0].request.headers["X-Reference-Id"] == str(
        payment.provider_reference
    )
    assert (
        _requests_to_pay(mtn)[0]
        .request.headers["X-Callback-Url"]
        .endswith(f"/api/v1/webhooks/mtn/{payment.callback_token}")
    )


def test_submitting_twice_sends_one_request(mtn) -> None:
    mtn.post(RTP, status=202)
    payment = PaymentFactory.create()

    services.submit_payment(payment_id=payment.pk)
    services.submit_payment(payment_id=payment.pk)

    assert len(_requests_to_pay(mtn)) == 1


def test_definite_rejection_fails_with_the_normalized_code_and_an_audit_row(mtn) -> None:
    mtn.post(RTP, status=500, json={"code": "PAYER_NOT_FOUND", "message": "x"})
    payment = PaymentFactory.create()

    services.submit_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == (Status.FAILED, "payer_not_found")
    assert payment.completed_at is not None
    assert AuditLog.objects.filter(action="payment.failed", target_id=str(payment.pk)).count() == 1


def test_read_timeout_on_submit_keeps_payment_pending_and_polls(mtn) -> None:
    mtn.post(RTP, body=requests.ReadTimeout())
    payment = PaymentFactory.create()

    services.submit_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert payment.status == Status.PENDING
    assert payment.submitted_at is not None  # it may have been accepted: never sent again
    assert payment.provider_calls.get().error == "read_timeout"
    services.submit_payment(payment_id=payment.pk)
    assert len(_requests_to_pay(mtn)) == 1


def test_unavailable_operator_is_retried_then_failed_provider_unavailable(mtn, settings) -> None:
    settings.PAYMENT_SUBMIT_MAX_ATTEMPTS = 2
    mtn.post(RTP, status=503, json={"code": "SERVICE_UNAVAILABLE", "message": "down"})
    payment = PaymentFactory.create()

    services.submit_payment(payment_id=payment.pk)
    payment.refresh_from_db()
    assert (payment.status, payment.submit_attempts) == (Status.PENDING, 1)
    assert payment.next_poll_at is not None

    services.submit_payment(payment_id=payment.pk)
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == (Status.FAILED, "provider_unavailable")


def test_refresh_applies_the_operators_verdict(mtn) -> None:
    payment = PaymentFactory.create(submitted_at=timezone.now())
    mtn.get(
        f"{RTP}/{payment.provider_reference}",
        json={"status": "SUCCESSFUL", "financialTransactionId": "600198217"},
    )

    services.refresh_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert payment.status == Status.SUCCESSFUL
    assert payment.provider_transaction_id == "600198217"
    assert payment.completed_at is not None and payment.next_poll_at is None
    assert AuditLog.objects.filter(action="payment.successful", target_id=str(payment.pk)).exists()


def test_pending_refresh_backs_off(mtn) -> None:
    payment = PaymentFactory.create(submitted_at=timezone.now())
    mtn.get(f"{RTP}/{payment.provider_reference}", json={"status": "PENDING"})

    delays = []
    for _ in range(6):
        before = timezone.now()
        services.refresh_payment(payment_id=payment.pk)
        payment.refresh_from_db()
        assert payment.next_poll_at is not None
        delays.append(round((payment.next_poll_at - before).total_seconds()))

    assert delays == [15, 30, 60, 300, 300, 300]


def test_final_status_never_changes() -> None:
    payment = PaymentFactory.create(status=Status.SUCCESSFUL, completed_at=timezone.now())

    changed = services.apply_provider_result(
        payment=payment,
        result=ProviderResult(outcome=Outcome.FAILED, failure_code=FailureCode.EXPIRED),
    )

    payment.refresh_from_db()
    assert changed is False and payment.status == Status.SUCCESSFUL


def test_pending_past_its_window_fails_expired(mtn) -> None:
    payment = PaymentFactory.create(submitted_at=timezone.now())
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    mtn.get(f"{RTP}/{payment.provider_reference}", json={"status": "PENDING"})

    services.refresh_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == (Status.FAILED, "expired")


def test_busy_payment_is_not_refreshed_twice(mtn) -> None:
    payment = PaymentFactory.create(
        submitted_at=timezone.now(), busy_until=timezone.now() + timedelta(minutes=1)
    )

    services.refresh_payment(payment_id=payment.pk)

    assert not [c for c in mtn.calls if "requesttopay/" in c.request.url]


def test_refund_is_checked_against_what_was_collected_and_refunded() -> None:
    collected = PaymentFactory.create(
        status=Status.SUCCESSFUL, completed_at=timezone.now(), amount=Decimal("100")
    )
    fund(collected.tenant)

    first = services.create_refund(payment=collected, actor=SYSTEM, amount=Decimal("60"))
    with pytest.raises(errors.RefundExceedsPayment):
        services.create_refund(payment=collected, actor=SYSTEM, amount=Decimal("41"))
    rest = services.create_refund(payment=collected, actor=SYSTEM)

    assert (first.flow, first.refund_of_id, first.amount) == (
        Flow.REFUND,
        collected.pk,
        Decimal("60"),
    )
    assert rest.amount == Decimal("40")
    with pytest.raises(errors.RefundNotAllowed):
        services.create_refund(payment=PaymentFactory.create(), actor=SYSTEM)


def test_refund_endpoint(api, test_key) -> None:
    collected = PaymentFactory.create(
        tenant=test_key.api_key.tenant, status=Status.SUCCESSFUL, completed_at=timezone.now()
    )
    fund(collected.tenant)

    response = api.post(
        f"/api/v1/payments/{collected.public_id}/refund", {"amount": "50"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["flow"] == "refund"
    assert response.json()["refund_of"] == collected.public_id


def test_a_worker_crash_before_the_operator_call_ends_in_exactly_one_request(mtn, api) -> None:
    mtn.post(RTP, status=202)
    created = api.post(
        "/api/v1/payments",
        {"amount": "150.00", "msisdn": "0961234567", "external_id": "order-crash"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="crash-1",
    ).json()
    payment = Payment.objects.get(public_id=created["id"])
    # The submission job takes the payment, then its worker dies before calling MTN.
    assert services._claim(payment.pk) is not None
    assert services.submit_payment(payment_id=payment.pk).submitted_at is None  # held: no send
    assert not _requests_to_pay(mtn)

    # The client retries (same key: the same answer); time passes beyond the lease.
    replay = api.post(
        "/api/v1/payments",
        {"amount": "150.00", "msisdn": "0961234567", "external_id": "order-crash"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="crash-1",
    )
    past = timezone.now() - timedelta(seconds=1)
    Payment.objects.filter(pk=payment.pk).update(busy_until=past, next_poll_at=past)
    assert services.poll_due_payments() == 1  # the poller notices the unsent payment
    services.submit_payment(payment_id=payment.pk)  # what the deferred job does
    services.submit_payment(payment_id=payment.pk)  # and a duplicate job, harmlessly

    assert replay["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1
    assert len(_requests_to_pay(mtn)) == 1
    assert _requests_to_pay(mtn)[0].request.headers["X-Reference-Id"] == str(
        payment.provider_reference
    )


@pytest.mark.django_db
def test_an_operators_declared_maximum_and_decimals_are_checked_before_storing(
    monkeypatch,
) -> None:
    import dataclasses

    from gateway import errors as gateway_errors
    from providers.mtn.adapter import MtnAdapter
    from tenants.models import Mode

    tenant = PaymentFactory.create().tenant
    narrow = dataclasses.replace(MtnAdapter.capabilities, max_amount=Decimal("500"), decimals=0)
    monkeypatch.setattr(MtnAdapter, "capabilities", narrow)

    for amount in (Decimal("500.01"), Decimal("10.50")):
        with pytest.raises(gateway_errors.GatewayError):
            services.create_payment(
                tenant=tenant,
                mode=Mode.TEST,
                flow=Flow.COLLECTION,
                amount=amount,
                currency="ZMW",
                msisdn="260961234567",
                external_id=f"cap-{amount}",
                actor=SYSTEM,
            )
    assert Payment.objects.count() == 1


# A FAILED payment's failure_message is a sentence for the customer; what the operator said
# stays, verbatim, in failure_detail.


def _as_merchant_sees_it(payment, client_for) -> dict:
    api = client_for(issue_key(tenant=payment.tenant).secret)
    response = api.get(f"/api/v1/payments/{payment.public_id}")
    assert response.status_code == 200, response.content
    return response.json()


def test_rejected_submission_reads_as_a_sentence_with_the_operator_code_kept(
    mtn, client_for
) -> None:
    mtn.post(RTP, status=500, json={"code": "PAYER_NOT_FOUND", "message": "Payer not found"})
    payment = PaymentFactory.create()

    services.submit_payment(payment_id=payment.pk)

    body = _as_merchant_sees_it(payment, client_for)
    assert (body["status"], body["failure_code"]) == ("FAILED", "payer_not_found")
    assert body["failure_message"] == (
        "This number has no active mobile-money account. Check the number or use another one."
    )
    assert "PAYER_NOT_FOUND" in body["failure_detail"]
    assert "PAYER_NOT_FOUND" not in body["failure_message"]


def test_failed_status_answer_reads_as_a_sentence_with_the_operator_code_kept(
    mtn, client_for
) -> None:
    payment = PaymentFactory.create(submitted_at=timezone.now())
    mtn.get(
        f"{RTP}/{payment.provider_reference}",
        json={"status": "FAILED", "reason": "INTERNAL_PROCESSING_ERROR"},
    )

    services.refresh_payment(payment_id=payment.pk)

    body = _as_merchant_sees_it(payment, client_for)
    assert (body["status"], body["failure_code"]) == ("FAILED", "provider_error")
    assert body["failure_message"] == failures.FAILURES["provider_error"].customer_message
    assert body["failure_detail"] == "INTERNAL_PROCESSING_ERROR"


def test_a_successful_payment_has_no_failure_fields(client_for) -> None:
    payment = PaymentFactory.create(status=Status.SUCCESSFUL, completed_at=timezone.now())

    body = _as_merchant_sees_it(payment, client_for)

    assert (body["failure_code"], body["failure_message"], body["failure_detail"]) == (
        None,
        None,
        None,
    )


def test_every_customer_message_is_a_plain_sentence() -> None:
    for code, failure in failures.FAILURES.items():
        text = failure.customer_message
        assert text[0].isupper() and text.endswith("."), code
        assert "_" not in text, code  # no operator or gateway codes shown to customers


# --- a request lost on its way is sent again, with the same reference ----------------------

NOT_FOUND = {"code": "RESOURCE_NOT_FOUND", "message": "Requested resource was not found."}


def _references(mtn) -> list[str]:
    return [call.request.headers["X-Reference-Id"] for call in _requests_to_pay(mtn)]


def test_refresh_sends_a_lost_request_again_with_its_reference_when_the_operator_does_not_know_it(
    mtn,
) -> None:
    # Found by the chaos run (bench/chaos.py): a 500 or a timeout before the operator stored
    # the request left the payment polling "not found" until it expired.
    mtn.post(RTP, body=requests.ReadTimeout())
    mtn.post(RTP, status=202)
    payment = PaymentFactory.create()
    services.submit_payment(payment_id=payment.pk)
    payment.refresh_from_db()
    first_sent = payment.submitted_at
    mtn.get(f"{RTP}/{payment.provider_reference}", status=404, json=NOT_FOUND)

    services.refresh_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert _references(mtn) == [str(payment.provider_reference)] * 2
    assert (payment.status, payment.submit_attempts) == (Status.PENDING, 1)
    # The resend's time: an operator's enquiry delay and margin count from the last send.
    assert first_sent is not None and payment.submitted_at is not None
    assert payment.submitted_at > first_sent
    assert payment.busy_until is None and payment.next_poll_at is not None
    assert list(payment.provider_calls.values_list("operation", "outcome")) == [
        ("request_payment", "outcome_unknown"),
        ("fetch_status", "unknown_reference"),
        ("request_payment", "pending"),
    ]


def test_a_lost_request_is_sent_again_at_most_the_submission_attempts(mtn, settings) -> None:
    settings.PAYMENT_SUBMIT_MAX_ATTEMPTS = 2
    mtn.post(RTP, body=requests.ReadTimeout())
    payment = PaymentFactory.create()
    services.submit_payment(payment_id=payment.pk)
    mtn.get(f"{RTP}/{payment.provider_reference}", status=404, json=NOT_FOUND)

    for _ in range(4):
        services.refresh_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert len(_references(mtn)) == 3  # the first, then two resends
    assert set(_references(mtn)) == {str(payment.provider_reference)}
    assert (payment.status, payment.submit_attempts) == (Status.PENDING, 2)


def test_a_resend_refused_before_processing_never_fails_the_payment(mtn, settings) -> None:
    # The first request may still land (held on its way): failing the payment could leave
    # money moved under a FAILED payment. The poller keeps asking until the window ends.
    settings.PAYMENT_SUBMIT_MAX_ATTEMPTS = 1
    mtn.post(RTP, body=requests.ReadTimeout())
    mtn.post(RTP, status=503, json={"code": "SERVICE_UNAVAILABLE", "message": "down"})
    payment = PaymentFactory.create()
    services.submit_payment(payment_id=payment.pk)
    mtn.get(f"{RTP}/{payment.provider_reference}", status=404, json=NOT_FOUND)

    services.refresh_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert payment.status == Status.PENDING and payment.submitted_at is not None
    assert payment.next_poll_at is not None and payment.busy_until is None


def test_a_lost_request_is_not_sent_again_in_the_second_half_of_its_window(mtn) -> None:
    # A request sent again late could still be live at the operator when the payment
    # expires FAILED: money moved under a failed payment.
    mtn.post(RTP, body=requests.ReadTimeout())
    payment = PaymentFactory.create()
    services.submit_payment(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.submitted_at is not None
    window = payment.expires_at - payment.submitted_at
    Payment.objects.filter(pk=payment.pk).update(
        submitted_at=timezone.now() - window * 0.6, expires_at=timezone.now() + window * 0.4
    )
    mtn.get(f"{RTP}/{payment.provider_reference}", status=404, json=NOT_FOUND)

    services.refresh_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert len(_references(mtn)) == 1  # only the first: no resend
    assert payment.status == Status.PENDING and payment.next_poll_at is not None
