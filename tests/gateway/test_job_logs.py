"""A job's outcome is one concise log line; Procrastinate's own per-job lines stay quiet."""

from __future__ import annotations

import logging

import pytest

from payments import services
from tests import live
from tests.payments.factories import PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)  # a real worker needs committed rows


def test_each_job_logs_one_line_with_its_task_duration_outcome_and_payment(caplog) -> None:
    payment = PaymentFactory.create()  # never sent: its status check returns at once
    services._defer("payments.refresh_payment", payment.pk, deduplicate=False)
    caplog.set_level(logging.DEBUG, logger="gateway.jobs")

    live.run_worker()

    done = [r for r in caplog.records if r.name == "gateway.jobs" and r.levelno >= logging.INFO]
    assert [(r.getMessage(), r.task, r.outcome, r.payment_pk) for r in done] == [
        ("job done", "payments.refresh_payment", "succeeded", payment.pk)
    ]
    assert done[0].duration_ms >= 0
    assert not [
        r
        for r in caplog.records
        if r.name.startswith("procrastinate.worker") and r.levelno == logging.INFO
    ]
