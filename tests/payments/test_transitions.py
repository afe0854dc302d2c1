"""The one writer of status: a final status never changes, whatever arrives late.

The interleavings are driven explicitly: while one process waits on the operator, another
makes the payment final; the first one's late answer must then change nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditLog
from audit.services import SYSTEM
from gateway import context, errors
from payments import services
from payments.models import Flow, Payment, Status
from tenants.models import Mode
from tests.payments.factories import PaymentFactory
from tests.providers.mtn.fake import mtn_with_tokens
from tests.tenants.factories import TenantFactory

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


def _finals(payment: Payment) -> list[str]:
    return list(
        AuditLog.objects.filter(
            target_id=str(payment.pk), action__in=["payment.successful", "payment.failed"]
        ).values_list("action", flat=True)
    )


def _status_body(payment: Payment, status: str) -> str:
    return json.dumps(
        {
            "amount": "150",
            "currency": "ZMW",
            "externalId": payment.public_id,
            "payer": {"partyIdType": "MSISDN", "partyId": payment.msisdn},
            "status": status,
            "financialTransactionId": "123456789",
        }
    )


def test_late_permanent_error_after_a_refresh_made_it_successful_leaves_it_successful(
    mtn,
) -> None:
    payment = PaymentFactory.create()
    status_url = f"{RTP}/{payment.provider_reference}"
    mtn.get(status_url, body=_status_body(payment, "SUCCESSFUL"))

    def meanwhile(request):
        # The submission hangs past its lease (a slow token endpoint, say); the poller's
        # refresh, in another process, finds the payment SUCCESSFUL at the operator.
        Payment.objects.filter(pk=payment.pk).update(
            busy_until=timezone.now() - timedelta(seconds=1),
            submitted_at=timezone.now(),
            lease_holder="job_other_0",
        )
        assert services.refresh_payment(payment_id=payment.pk).status == Status.SUCCESSFUL
        # ... and only then does the submission's answer arrive: a definite refusal.
        return 400, {}, json.dumps({"code": "PAYER_NOT_FOUND", "message": "Payer not found"})

    mtn.add_callback("POST", RTP, callback=meanwhile)

    services.submit_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == (Status.SUCCESSFUL, "")
    assert payment.provider_transaction_id == "123456789"
    assert _finals(payment) == ["payment.successful"]
    assert payment.busy_until is None


def test_expiry_after_a_refresh_made_it_successful_leaves_it_successful(mtn) -> None:
    payment = PaymentFactory.create(
        submitted_at=timezone.now(), expires_at=timezone.now() - timedelta(seconds=1)
    )
    status_url = f"{RTP}/{payment.provider_reference}"

    def meanwhile(request):
        # While this (scheduled) check waits on MTN, a callback-triggered check elsewhere
        # settles the payment; this one then hears PENDING and the window has passed.
        with transaction.atomic():
            services.transition_payment(
                payment=Payment.objects.get(pk=payment.pk), status=Status.SUCCESSFUL
            )
        return 200, {}, _status_body(payment, "PENDING")

    mtn.add_callback("GET", status_url, callback=meanwhile)

    services.refresh_payment(payment_id=payment.pk)

    payment.refresh_from_db()
    assert payment.status == Status.SUCCESSFUL
    assert _finals(payment) == ["payment.successful"]


def test_expiry_sweep_after_a_refresh_made_it_successful_leaves_it_successful() -> None:
    stale = PaymentFactory.create(expires_at=timezone.now() - timedelta(hours=1))
    services.transition_payment(payment=Payment.objects.get(pk=stale.pk), status=Status.SUCCESSFUL)

    # The stale in-memory copy still says PENDING: the guard is the UPDATE, not the copy.
    moved = services.transition_payment(payment=stale, status=Status.FAILED, failure_code="expired")

    assert moved is False
    assert stale.status == Status.SUCCESSFUL  # reloaded
    assert services.expire_overdue_payments() == 0
    assert _finals(stale) == ["payment.successful"]


def test_the_database_refuses_to_change_a_final_status() -> None:
    payment = PaymentFactory.create(status=Status.SUCCESSFUL, completed_at=timezone.now())

    with pytest.raises(IntegrityError, match="can no longer change"), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(status=Status.PENDING, completed_at=None)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_payment SET status = 'FAILED', failure_code = 'expired' WHERE id = %s",
            [payment.pk],
        )

    payment.refresh_from_db()
    assert payment.status == Status.SUCCESSFUL


def test_the_overdue_sweep_expires_unleased_payments_without_an_operator_call() -> None:
    lease = settings.PAYMENT_LEASE_SECONDS
    long_overdue = timezone.now() - timedelta(seconds=lease + 5)
    stranded = PaymentFactory.create(expires_at=long_overdue)
    held = PaymentFactory.create(
        expires_at=long_overdue, busy_until=timezone.now() + timedelta(seconds=30)
    )
    just_due = PaymentFactory.create(expires_at=timezone.now() - timedelta(seconds=1))

    assert services.expire_overdue_payments() == 1

    stranded.refresh_from_db()
    assert (stranded.status, stranded.failure_code) == (Status.FAILED, "expired")
    assert not stranded.provider_calls.exists()
    for payment in (held, just_due):  # its holder, or the poller's last check, decides
        payment.refresh_from_db()
        assert payment.status == Status.PENDING


def test_a_requested_check_leaves_the_polling_schedule_as_it_was(mtn) -> None:
    due = timezone.now() + timedelta(seconds=15)
    payment = PaymentFactory.create(submitted_at=timezone.now(), next_poll_at=due, poll_count=1)
    mtn.get(f"{RTP}/{payment.provider_reference}", body=_status_body(payment, "PENDING"))

    for _ in range(5):  # a burst of callbacks, each asking for a check
        services.refresh_payment(payment_id=payment.pk, scheduled=False)

    payment.refresh_from_db()
    assert (payment.status, payment.poll_count, payment.next_poll_at) == (Status.PENDING, 1, due)
    services.refresh_payment(payment_id=payment.pk)  # the scheduled one moves it on
    payment.refresh_from_db()
    assert payment.poll_count == 2
    assert payment.next_poll_at is not None and payment.next_poll_at > due


def test_a_retried_job_takes_over_the_lease_of_its_own_dead_attempt() -> None:
    payment = PaymentFactory.create(
        busy_until=timezone.now() + timedelta(seconds=100), lease_holder="job_41_0"
    )

    def claim_as(holder: str) -> bool:
        token = context.request_id.set(holder)
        try:
            return services._claim(payment.pk) is not None
        finally:
            context.request_id.reset(token)

    assert not claim_as("job_4_1")  # another job (an id sharing a prefix): waits
    assert not claim_as("req_abc")  # a request: waits
    assert claim_as("job_41_1")  # the next attempt of job 41: its first attempt is dead
    payment.refresh_from_db()
    assert payment.lease_holder == "job_41_1"


def test_transition_refuses_a_status_that_is_not_final() -> None:
    payment = PaymentFactory.create()

    with pytest.raises(ValueError, match="not a final status"):
        services.transition_payment(payment=payment, status=Status.PENDING)


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        (Decimal("100000.01"), "ZMW", "amount"),
        (Decimal("0"), "ZMW", "amount"),
        (Decimal("1.005"), "ZMW", "amount"),
        (Decimal("10.00"), "USD", "currency"),
    ],
)
def test_create_payment_enforces_currency_and_limits_whoever_calls_it(
    amount, currency, field
) -> None:
    with pytest.raises(errors.ValidationFailed) as refused:
        services.create_payment(
            tenant=TenantFactory.create(),
            mode=Mode.TEST,
            flow=Flow.COLLECTION,
            amount=amount,
            currency=currency,
            msisdn="260961234567",
            external_id="rules",
            actor=SYSTEM,
        )

    assert refused.value.errors is not None
    assert refused.value.errors[0]["field"] == field
    assert not Payment.objects.exists()
