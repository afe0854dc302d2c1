"""The one writer of status records one immutable event, with its fan-out job, in its own
transaction: a rolled-back transition leaves no event, delivery or job."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from payments import services as payments
from payments.models import Flow, Status
from payments.serializers import PaymentSerializer
from tests.payments.factories import PaymentFactory
from tests.webhooks.outbound.factories import endpoint_for, fanned_out, finalize
from webhooks.outbound.models import Delivery, Event

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


class Rollback(Exception):
    pass


@pytest.mark.parametrize(
    ("flow", "status", "expected"),
    [
        (Flow.COLLECTION, Status.SUCCESSFUL, "payment.succeeded"),
        (Flow.COLLECTION, Status.FAILED, "payment.failed"),
        (Flow.DISBURSEMENT, Status.SUCCESSFUL, "payment.succeeded"),
        (Flow.REFUND, Status.SUCCESSFUL, "refund.succeeded"),
        (Flow.REFUND, Status.FAILED, "refund.failed"),
    ],
)
def test_a_final_payment_records_one_event_of_its_type(flow, status, expected) -> None:
    extra = {}
    if flow == Flow.REFUND:
        extra["refund_of"] = PaymentFactory.create(status=Status.PENDING)
    payment = PaymentFactory.create(flow=flow, **extra)

    event = finalize(payment, status)

    assert event.type == expected
    assert (event.tenant_id, event.mode) == (payment.tenant_id, payment.mode)
    assert event.public_id.startswith("evt_") and len(event.public_id) == 28
    body = json.loads(event.body)
    assert body["id"] == event.public_id
    assert body["type"] == expected
    assert body["mode"] == "test"
    payment.refresh_from_db()
    assert body["data"] == json.loads(json.dumps(PaymentSerializer(payment).data))
    assert body["data"]["status"] == status
    job = ProcrastinateJob.objects.get(task_name="webhooks.fan_out_event")
    assert job.args == {"event_id": event.pk}
    assert job.queue_name == "scheduler"


def test_a_rolled_back_transition_leaves_no_event_delivery_or_job(merchant, receiver) -> None:
    endpoint_for(merchant.api_key.tenant, receiver().url())
    payment = PaymentFactory.create(tenant=merchant.api_key.tenant)

    with pytest.raises(Rollback), transaction.atomic():
        assert payments.transition_payment(payment=payment, status=Status.SUCCESSFUL)
        assert Event.objects.count() == 1  # inside, the event exists...
        raise Rollback

    assert Event.objects.count() == 0  # ...and went with the status change
    assert Delivery.objects.count() == 0
    assert not ProcrastinateJob.objects.filter(task_name__startswith="webhooks.").exists()
    payment.refresh_from_db()
    assert payment.status == Status.PENDING


def test_a_transition_that_changes_nothing_records_no_event() -> None:
    payment = PaymentFactory.create()
    finalize(payment)

    with transaction.atomic():
        assert not payments.transition_payment(payment=payment, status=Status.FAILED)

    assert Event.objects.filter(payment=payment).count() == 1


def test_an_event_cannot_be_changed_or_deleted(merchant, receiver) -> None:
    endpoint_for(merchant.api_key.tenant, receiver().url())
    event = finalize(PaymentFactory.create(tenant=merchant.api_key.tenant))
    fanned_out(event)  # the one change allowed, once

    for change in (
        lambda: Event.objects.filter(pk=event.pk).update(body="{}"),
        lambda: Event.objects.filter(pk=event.pk).update(type="payment.failed"),
        lambda: Event.objects.filter(pk=event.pk).update(fanned_out_at=None),
        lambda: Event.objects.filter(pk=event.pk).delete(),
    ):
        with pytest.raises((InternalError, IntegrityError, ProgrammingError)), transaction.atomic():
            change()

    event.refresh_from_db()
    assert event.fanned_out_at is not None


def test_payments_does_not_import_webhooks() -> None:
    """Webhooks register with payments.hooks; the money path knows nothing of them. (The ops
    admin shows operator callbacks inline, and is the one exception.)"""
    offenders = []
    for path in (ROOT / "payments").rglob("*.py"):
        if path.name == "admin.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "webhooks"]

    assert offenders == []
