"""The business gauges read at scrape time: every series present (0 when empty), overdue
payments, the age of the oldest due job per queue, breaker states; counters count commits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from procrastinate.contrib.django import app
from prometheus_client import REGISTRY

from payments import metrics
from providers import breakers
from tests import prom
from tests.payments.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def _samples() -> prom.Samples:
    return prom.parse(Client().get("/metrics").content.decode())


_get = prom.value


def test_every_series_is_present_at_zero_when_nothing_is_there() -> None:
    samples = _samples()

    for provider in ("mtn", "airtel", "zamtel"):
        for mode in ("test", "live"):
            assert _get(samples, "gateway_payments_pending", provider=provider, mode=mode) == 0
            assert _get(samples, "gateway_payments_overdue", provider=provider, mode=mode) == 0
    for queue in ("operator", "webhooks", "scheduler", "maintenance", "sandbox"):
        assert _get(samples, "gateway_jobs", queue=queue, status="todo") == 0
        assert _get(samples, "gateway_job_queue_oldest_seconds", queue=queue) == 0


def test_overdue_payments_and_the_oldest_due_job() -> None:
    now = timezone.now()
    PaymentFactory.create(expires_at=now - timedelta(minutes=5))
    PaymentFactory.create(expires_at=now + timedelta(minutes=5))
    app.configure_task(
        "payments.poll_due_payments", schedule_at=now - timedelta(seconds=90)
    ).defer()
    # Due later: not waiting yet, so not counted in the age.
    app.configure_task("payments.purge_idempotency_keys", schedule_in={"hours": 1}).defer()

    samples = _samples()

    assert _get(samples, "gateway_payments_pending", provider="mtn", mode="test") == 2
    assert _get(samples, "gateway_payments_overdue", provider="mtn", mode="test") == 1
    assert _get(samples, "gateway_jobs", queue="scheduler", status="todo") == 1
    assert _get(samples, "gateway_jobs", queue="maintenance", status="todo") == 1
    assert 90 <= (_get(samples, "gateway_job_queue_oldest_seconds", queue="scheduler") or 0) < 3600
    assert _get(samples, "gateway_job_queue_oldest_seconds", queue="maintenance") == 0


def test_breaker_state_is_one_for_the_current_state() -> None:
    breakers.publish("airtel", "live", "open")

    samples = _samples()

    states = {
        state: _get(
            samples, "gateway_circuit_breaker_state", provider="airtel", mode="live", state=state
        )
        for state in ("closed", "open", "half_open")
    }
    assert states == {"closed": 0, "open": 1, "half_open": 0}


def test_a_rolled_back_payment_is_not_counted(django_capture_on_commit_callbacks) -> None:
    labels = {"provider": "mtn", "flow": "collection", "mode": "test"}
    name = "gateway_payments_created_total"
    before = REGISTRY.get_sample_value(name, labels) or 0

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            metrics.count_created(PaymentFactory.create())
            transaction.set_rollback(True)
        with transaction.atomic():
            metrics.count_created(PaymentFactory.create())

    assert REGISTRY.get_sample_value(name, labels) == before + 1
