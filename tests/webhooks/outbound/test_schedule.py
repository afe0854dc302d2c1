"""The retry schedule lives in the rows: with a fake clock and a receiver that always fails,
attempts come at the published offsets (within the jitter), then the delivery is dead; a
resend delivers it later with the same webhook-id."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.webhooks.outbound.factories import (
    endpoint_for,
    fanned_out,
    final_payment_event,
    run_delivery_jobs,
)
from webhooks.outbound import services
from webhooks.outbound.models import Delivery, DeliveryState, WebhookEndpoint

pytestmark = pytest.mark.django_db

PUBLISHED = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]  # README, settings


def _due_jobs() -> set[tuple[int, int]]:
    """The (endpoint, slot) of each delivery job waiting."""
    return {
        (job.args["endpoint_id"], job.args["slot"])
        for job in ProcrastinateJob.objects.filter(task_name="webhooks.deliver", status="todo")
    }


def _slot(delivery) -> tuple[int, int]:
    return (delivery.endpoint_id, delivery.pk % settings.WEBHOOK_ENDPOINT_CONCURRENCY)


def _run_queued_job(delivery_id: int):
    """What the worker does with the queued job: it drains the slot (one attempt here)."""
    assert run_delivery_jobs() == 1
    return Delivery.objects.get(pk=delivery_id)


def test_attempts_follow_the_published_schedule_then_the_delivery_is_dead(
    merchant, receiver, clock
) -> None:
    assert settings.WEBHOOK_RETRY_SCHEDULE_SECONDS == PUBLISHED
    hook = receiver()
    hook.always(500, body=b"down for maintenance")
    endpoint, _ = endpoint_for(merchant.api_key.tenant, hook.url())
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))
    created = clock.now
    assert _due_jobs() == {_slot(delivery)}  # the first attempt, at once

    attempted_at: list = []
    for number, delay in enumerate([0, *PUBLISHED], start=1):
        if number > 1:
            due = delivery.next_attempt_at
            low = attempted_at[-1] + timedelta(seconds=delay * (1 - services.JITTER))
            high = attempted_at[-1] + timedelta(seconds=delay * (1 + services.JITTER))
            assert low <= due <= high, (number, delay, due - attempted_at[-1])
            # Not due a moment before: neither the dispatcher nor a stray job attempts it.
            clock.set(due - timedelta(milliseconds=1))
            assert services.dispatch_due_deliveries() == 0
            assert services.deliver(delivery_id=delivery.pk) is None
            clock.set(due)
            assert services.dispatch_due_deliveries() == 1
            assert _due_jobs() == {_slot(delivery)}
        delivery = _run_queued_job(delivery.pk)
        attempted_at.append(clock.now)
        assert delivery.attempts == number
        assert delivery.last_status == 500
        assert delivery.response_excerpt == "down for maintenance"

    assert delivery.state == DeliveryState.DEAD
    assert delivery.next_attempt_at is None
    assert len(hook.requests) == 10
    assert len({r.headers["webhook-id"] for r in hook.requests}) == 1
    total = attempted_at[-1] - created
    assert timedelta(days=2.8) < total < timedelta(days=3.5)  # "keeps trying for days"
    clock.advance(days=30)
    assert services.dispatch_due_deliveries() == 0
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 10
    assert endpoint.is_enabled  # failures alone never disable an endpoint

    # The merchant fixed its server: a resend delivers, with the same webhook-id.
    hook.always(204)
    services.resend_event(event=delivery.event)
    delivery = _run_queued_job(delivery.pk)

    assert delivery.state == DeliveryState.SUCCEEDED
    assert (delivery.attempts, delivery.last_status) == (1, 204)  # a new schedule
    assert len({r.headers["webhook-id"] for r in hook.requests}) == 1
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.last_success_at) == (0, clock.now)


def test_jitter_spreads_retries_within_ten_percent() -> None:
    delays = [services.retry_delay(1).total_seconds() for _ in range(200)]  # type: ignore[union-attr]

    assert all(4.5 <= d <= 5.5 for d in delays)
    assert max(delays) - min(delays) > 0.5  # not all the same
    assert services.retry_delay(len(PUBLISHED) + 1) is None


def test_a_lost_job_never_loses_a_delivery(merchant, receiver, clock) -> None:
    hook = receiver()
    endpoint_for(merchant.api_key.tenant, hook.url())
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))
    ProcrastinateJob.objects.filter(task_name="webhooks.deliver").delete()  # lost

    assert services.dispatch_due_deliveries() == 1  # found in the rows
    assert _run_queued_job(delivery.pk).state == DeliveryState.SUCCEEDED
    assert len(hook.requests) == 1


def test_a_lost_fan_out_job_is_deferred_again(merchant, receiver, clock) -> None:
    endpoint_for(merchant.api_key.tenant, receiver().url())
    event = final_payment_event(merchant.api_key.tenant)
    ProcrastinateJob.objects.filter(task_name="webhooks.fan_out_event").delete()

    services.dispatch_due_deliveries()
    assert not ProcrastinateJob.objects.filter(task_name="webhooks.fan_out_event").exists()
    clock.advance(seconds=31)
    services.dispatch_due_deliveries()

    job = ProcrastinateJob.objects.get(task_name="webhooks.fan_out_event")
    assert job.args == {"event_id": event.pk}
    assert services.fan_out_event(event_id=event.pk) == 1
    assert services.fan_out_event(event_id=event.pk) == 0  # once per event


def test_an_attempt_in_flight_is_not_dispatched_again(merchant, receiver, clock) -> None:
    endpoint_for(merchant.api_key.tenant, receiver().url())
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))
    ProcrastinateJob.objects.all().delete()
    claimed = services._claim(delivery.pk)  # an attempt starts (a worker then dies)
    assert claimed is not None

    assert services.dispatch_due_deliveries() == 0
    clock.advance(seconds=14)  # the lease (connect 1 s + read 2 s + 10 s here) is over
    assert services.dispatch_due_deliveries() == 1  # the lease ended: retried


def test_each_delivery_holds_one_of_its_endpoints_slots(merchant, receiver, settings) -> None:
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    endpoint, _ = endpoint_for(merchant.api_key.tenant, receiver().url())
    for _ in range(4):
        fanned_out(final_payment_event(merchant.api_key.tenant))

    jobs = ProcrastinateJob.objects.filter(task_name="webhooks.deliver")
    locks = sorted(jobs.values_list("lock", flat=True))
    # One job per slot: the second delivery of a slot waits for the job already queued there.
    assert locks == [f"webhook-endpoint:{endpoint.pk}:0", f"webhook-endpoint:{endpoint.pk}:1"]
    assert run_delivery_jobs() == 4
    assert WebhookEndpoint.objects.count() == 1
