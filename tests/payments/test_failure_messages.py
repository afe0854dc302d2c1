"""A FAILED payment's failure_message is a sentence for the customer; what the operator said
stays, verbatim, in failure_detail."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone

from payments import failures, services
from payments.models import Status
from tests.payments.factories import PaymentFactory
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
