"""Merchant webhooks under production faults, with real `run_worker` processes: a worker
SIGKILLed in the middle of a delivery loses nothing, and a merchant whose server hangs holds
only its own endpoint's slots while another merchant's deliveries go on."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from procrastinate.contrib.django.models import ProcrastinateJob
from standardwebhooks.webhooks import Webhook

from payments import services as payments
from payments.models import Status
from tenants.models import Mode
from tests import live
from tests.e2e import processes
from tests.e2e.processes import wait_for
from tests.payments.factories import PaymentFactory
from tests.tenants.factories import TenantFactory
from tests.webhooks.outbound.receiver import HANG, Receiver
from webhooks.outbound import services
from webhooks.outbound.models import Delivery, DeliveryState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def workers(tmp_path):
    started: list[processes.Process] = []

    def start(name: str, **env: str) -> processes.Process:
        environment = processes.environment(
            live.database_url(),
            WEBHOOK_ALLOW_INSECURE="true",  # the receivers are http on loopback
            WEBHOOK_CONNECT_TIMEOUT_SECONDS="1",
            WEBHOOK_DISPATCH_INTERVAL_SECONDS="1",
            **env,
        )
        process = processes.start_worker(
            environment, tmp_path, name=name, queues="scheduler,webhooks"
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.alive():
            process.kill()


def _endpoint(url: str, settings):
    from audit.services import SYSTEM

    settings.WEBHOOK_ALLOW_INSECURE = True
    tenant = TenantFactory.create()
    created = services.create_webhook_endpoint(tenant=tenant, mode=Mode.TEST, url=url, actor=SYSTEM)
    return tenant, created.secret


def _finalize(tenant, count: int = 1) -> list:
    made = [PaymentFactory.create(tenant=tenant) for _ in range(count)]
    with transaction.atomic():
        for payment in made:
            payments.transition_payment(payment=payment, status=Status.SUCCESSFUL)
    return made


def test_a_worker_killed_mid_delivery_loses_nothing(receivers, workers, settings) -> None:
    hook = receivers()
    # The first attempt reaches the merchant and waits for its answer; later ones get 200.
    hook.answer = lambda request: HANG if len(hook.requests) == 1 else (200, {}, b"ok")
    tenant, secret = _endpoint(hook.url(), settings)
    first = workers("webhooks-1", WEBHOOK_READ_TIMEOUT_SECONDS="30")
    (payment,) = _finalize(tenant)

    assert wait_for(lambda: len(hook.requests) == 1, within=20), first.output()
    # A dispatcher that read the delivery as due just before the claim may have queued one
    # more job for the slot (it waits behind the slot's lock and finds nothing): the one
    # that matters is the one running.
    job = ProcrastinateJob.objects.get(task_name="webhooks.deliver", status="doing")
    # While the attempt runs, next_attempt_at is when its lease ends (connect + read + 10 s).
    lease_ends = Delivery.objects.get().next_attempt_at
    first.kill()
    replacement = workers("webhooks-2", WEBHOOK_READ_TIMEOUT_SECONDS="30")

    delivered = wait_for(
        lambda: Delivery.objects.filter(state=DeliveryState.SUCCEEDED).exists(), within=60
    )

    assert delivered, replacement.output()
    assert len(hook.requests) == 2
    lost, arrived = hook.requests
    assert arrived.headers["webhook-id"] == lost.headers["webhook-id"]  # the same event
    assert arrived.body == lost.body
    assert Webhook(secret).verify(arrived.body, arrived.headers)["data"]["id"] == (
        payment.public_id
    )
    delivery = Delivery.objects.get()
    assert delivery.attempts == 1  # the killed attempt recorded nothing
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 2)  # the killed attempt, one retry
    # The retry took over its own dead attempt's lease rather than waiting for it to end.
    assert lease_ends is not None and delivery.last_attempt_at is not None
    assert delivery.last_attempt_at < lease_ends


def test_a_hanging_merchant_holds_only_its_own_endpoints_slots(
    receivers, workers, settings
) -> None:
    hanging, fast = receivers(), receivers()
    hanging.hang()
    slow_tenant, _ = _endpoint(hanging.url(), settings)
    fast_tenant, _ = _endpoint(fast.url(), settings)
    workers(
        "webhooks",
        WORKER_CONCURRENCY="4",
        WEBHOOK_ENDPOINT_CONCURRENCY="2",
        WEBHOOK_READ_TIMEOUT_SECONDS="20",
    )
    _finalize(slow_tenant, count=8)
    assert wait_for(lambda: len(hanging.requests) == 2, within=20)

    started = time.monotonic()
    _finalize(fast_tenant, count=12)
    assert wait_for(lambda: len(fast.requests) == 12, within=19), (
        len(fast.requests),
        len(hanging.requests),
    )
    took = time.monotonic() - started

    assert len(hanging.requests) == 2  # its two slots, still waiting
    # About 1-2 s here; behind the hanging merchant it could not be less than its 20 s read
    # timeout (the bound is that cause, not a speed target).
    assert took < 20
