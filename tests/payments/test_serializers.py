"""The hand-built payment body is PaymentSerializer's output, byte for byte, in every state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from audit.services import SYSTEM
from payments import services
from payments.ledger.models import FeeSchedule
from payments.models import Flow, Payment, Status
from payments.serializers import PaymentSerializer, payment_body
from providers.base import FailureCode
from tenants.models import Mode
from tests.payments.factories import PaymentFactory, fund

pytestmark = pytest.mark.django_db


def _same_json(payment: Payment) -> None:
    expected = PaymentSerializer(payment).data
    built = payment_body(payment)
    assert built == expected
    assert JSONRenderer().render(built) == JSONRenderer().render(expected)  # key order too


def _final(payment: Payment, status: Status, **changes: Any) -> Payment:
    services.transition_payment(payment=payment, status=status, **changes)
    return Payment.objects.select_related("refund_of").get(pk=payment.pk)


def test_a_new_payment_as_created_in_memory_and_as_read_back() -> None:
    payment = PaymentFactory.create()
    FeeSchedule.objects.create(
        tenant=payment.tenant, provider="mtn", flow=Flow.COLLECTION, percent=Decimal("1.5")
    )
    created = services.create_payment(
        tenant=payment.tenant,
        mode=Mode.TEST,
        flow=Flow.COLLECTION,
        amount=Decimal("99.99"),
        currency="ZMW",
        msisdn="260961234567",
        external_id="fresh",
        actor=SYSTEM,
        description="",
        metadata={"order": {"lines": [1, 2.5, None, True]}, "note": "ü"},
    )

    assert created.fee == Decimal("1.50")
    _same_json(created)
    _same_json(Payment.objects.get(pk=created.pk))


def test_successful_failed_and_refund_payments() -> None:
    succeeded = _final(
        PaymentFactory.create(metadata={}), Status.SUCCESSFUL, provider_transaction_id="MP123"
    )
    failed = _final(
        PaymentFactory.create(),
        Status.FAILED,
        failure_code=FailureCode.INSUFFICIENT_FUNDS,
        failure_message="Not enough money",
    )
    fund(succeeded.tenant)
    refund = services.create_refund(payment=succeeded, actor=SYSTEM, amount=Decimal("50"))
    payout = PaymentFactory.create(
        tenant=succeeded.tenant, flow=Flow.DISBURSEMENT, fee=Decimal("2.00")
    )

    assert succeeded.completed_at and failed.failure_message and refund.refund_of_id
    for payment in (succeeded, failed, refund, payout, _final(refund, Status.FAILED)):
        _same_json(payment)
    _same_json(Payment.objects.select_related("refund_of").get(pk=refund.pk))


def test_routing_and_next_action_in_each_form() -> None:
    now = timezone.now()
    fallback = PaymentFactory.create(
        routing={
            "predicted": "mtn",
            "chosen": "airtel",
            "reason": "fallback",
            "lookups": {"mtn": "not_registered", "airtel": "registered"},
        }
    )
    nobody = PaymentFactory.create(routing={"predicted": "mtn", "chosen": None, "reason": "x"})
    legacy = PaymentFactory.create(routing={})  # made before routing was recorded
    queued = PaymentFactory.create(flow=Flow.DISBURSEMENT, queued_at=now)
    flagged = PaymentFactory.create(review_flagged_at=now, review_reason="answer lost")

    assert (queued.next_action, flagged.next_action) == ("queued", "manual_review")
    for payment in (fallback, nobody, legacy, queued, flagged):
        _same_json(payment)


def test_in_another_time_zone() -> None:
    payment = _final(PaymentFactory.create(), Status.SUCCESSFUL)
    with timezone.override("Africa/Lusaka"):
        assert payment_body(payment)["created_at"].endswith("+02:00")
        _same_json(payment)


def test_the_schema_describes_every_field_of_the_body() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    described = schema["components"]["schemas"]["Payment"]["properties"]

    assert list(described) == list(payment_body(PaymentFactory.create()))
