from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import SYSTEM
from payments import services as payments
from payments.models import Payment, Status
from tenants.models import Mode, Tenant
from tests.payments.factories import PaymentFactory
from webhooks.outbound import services
from webhooks.outbound.models import Delivery, Event, WebhookEndpoint


def endpoint_for(
    tenant: Tenant, url: str, *, mode: Mode = Mode.TEST, events: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    """An endpoint through the real service (its URL checked), and its secret."""
    services.check_url(url)
    created = services.create_webhook_endpoint(
        tenant=tenant, mode=mode, url=url, actor=SYSTEM, enabled_events=events
    )
    return created.endpoint, created.secret


def finalize(payment: Payment, status: Status = Status.SUCCESSFUL) -> Event:
    """Make the payment final through the one writer of status; its event."""
    with transaction.atomic():
        failure_code = "payer_not_found" if status == Status.FAILED else ""
        assert payments.transition_payment(
            payment=payment, status=status, failure_code=failure_code
        )
    return Event.objects.get(payment=payment)


def final_payment_event(tenant: Tenant, **payment: object) -> Event:
    return finalize(PaymentFactory.create(tenant=tenant, **payment))


def fanned_out(event: Event) -> list[Any]:
    services.fan_out_event(event_id=event.pk)
    return list(Delivery.objects.filter(event=event).order_by("id"))


def attempt(delivery_id: int) -> Any:
    """One attempt through the delivery job's service; the delivery after it."""
    delivery = services.deliver(delivery_id=delivery_id)
    assert delivery is not None
    return delivery


def run_delivery_jobs() -> int:
    """What the webhooks worker does with the queued delivery jobs, once each; attempts."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    jobs = list(ProcrastinateJob.objects.filter(task_name=services.DELIVER_TASK, status="todo"))
    ProcrastinateJob.objects.filter(pk__in=[job.pk for job in jobs]).update(status="succeeded")
    return sum(services.deliver_due(**job.args) for job in jobs)
