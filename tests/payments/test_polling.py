"""The poller under real concurrency: several pollers share the due payments, never twice."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from payments import services
from tests.payments.factories import PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, seen across threads


def test_concurrent_pollers_hand_out_each_due_payment_once(settings) -> None:
    settings.PAYMENT_POLL_BATCH_SIZE = 7
    due = timezone.now() - timedelta(seconds=1)
    payments = [PaymentFactory.create(next_poll_at=due, submitted_at=due) for _ in range(20)]
    start = threading.Barrier(4)

    def poll(_: int) -> int:
        start.wait()
        try:
            handed_out = 0
            while batch := services.poll_due_payments():
                handed_out += batch
            return handed_out
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(poll, range(4)))

    assert sum(counts) == len(payments)
    jobs = ProcrastinateJob.objects.filter(task_name="payments.refresh_payment")
    assert sorted(job.args["payment_id"] for job in jobs) == sorted(p.pk for p in payments)
