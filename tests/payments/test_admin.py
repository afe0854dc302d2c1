from __future__ import annotations

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from payments.models import Transaction
from tests.payments.factories import PaymentFactory
from webhooks.models import InboundCallback

pytestmark = pytest.mark.django_db


def test_payment_page_shows_its_timeline(staff) -> None:
    payment = PaymentFactory.create()
    Transaction.objects.create(
        payment=payment,
        operation="request_payment",
        method="POST",
        url="http://mtn/requesttopay",
        status_code=202,
        outcome="pending",
        duration_ms=12.5,
    )
    InboundCallback.objects.create(
        provider="mtn",
        token=payment.callback_token,
        method="POST",
        body='{"status":"SUCCESSFUL"}',
        payment=payment,
        claimed_status="successful",
    )

    page = staff.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()

    assert "request_payment" in page and "Operator calls (timeline)" in page
    assert "Operator callbacks" in page and "successful" in page


@pytest.mark.parametrize("query", ["msisdn", "external_id", "public_id", "provider_reference"])
def test_payments_are_searchable(staff, query) -> None:
    payment = PaymentFactory.create(msisdn="260961112223")

    page = staff.get(
        "/admin/payments/payment/", {"q": str(getattr(payment, query))}
    ).content.decode()

    assert payment.public_id in page


def test_recheck_action_queues_one_refresh_per_pending_payment(staff) -> None:
    pending = PaymentFactory.create()
    done = PaymentFactory.create(status="SUCCESSFUL", completed_at=timezone.now())

    staff.post(
        "/admin/payments/payment/",
        {"action": "recheck_with_operator", "_selected_action": [pending.pk, done.pk]},
    )

    jobs = ProcrastinateJob.objects.filter(task_name="payments.refresh_payment")
    assert [job.args for job in jobs] == [{"payment_id": pending.pk, "scheduled": False}]
