"""Stalled jobs (their worker stopped heart-beating) are retried, or dropped, never left."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from gateway import services
from payments import services as payments
from tests.payments.factories import PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the job manager uses its own connection


def _worker(*, seconds_since_heartbeat: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat)"
            " VALUES (now() - make_interval(secs => %s)) RETURNING id",
            [seconds_since_heartbeat],
        )
        return int(cursor.fetchone()[0])


def _running(job: ProcrastinateJob, *, worker_id: int, attempts: int = 0) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s, attempts = %s"
            " WHERE id = %s",
            [worker_id, attempts, job.pk],
        )


def _recover() -> int:
    return asyncio.run(services.recover_stalled_jobs(job_manager=app.job_manager, stalled_after=30))


def _job_of(payment_pk: int, task: str) -> ProcrastinateJob:
    return ProcrastinateJob.objects.filter(task_name=task, args__payment_id=payment_pk).latest("id")


def test_the_job_of_a_dead_worker_is_retried_and_a_live_one_is_left_alone() -> None:
    dead, alive = _worker(seconds_since_heartbeat=300), _worker(seconds_since_heartbeat=1)
    stranded, busy = PaymentFactory.create(), PaymentFactory.create()
    for payment, worker in ((stranded, dead), (busy, alive)):
        payments._defer("payments.submit_payment", payment.pk, deduplicate=False)
        _running(_job_of(payment.pk, "payments.submit_payment"), worker_id=worker)

    assert _recover() == 1

    retried = _job_of(stranded.pk, "payments.submit_payment")
    assert (retried.status, retried.attempts) == ("todo", 1)  # its lock no longer blocks
    assert _job_of(busy.pk, "payments.submit_payment").status == "doing"


def test_a_stalled_job_is_retried_in_place_of_its_waiting_copy() -> None:
    # Only the dead attempt's own retry takes over its lease at once; a copy would wait for
    # the lease to run out (a webhook delivery: its read timeout and more).
    dead = _worker(seconds_since_heartbeat=300)
    payment = PaymentFactory.create()
    payments.request_refresh(payment=payment)
    stalled = _job_of(payment.pk, "payments.refresh_payment")
    _running(stalled, worker_id=dead)
    payments.request_refresh(payment=payment)  # a callback queues another check meanwhile
    copy = _job_of(payment.pk, "payments.refresh_payment")

    assert _recover() == 1

    stalled.refresh_from_db()
    copy.refresh_from_db()
    assert (stalled.status, stalled.attempts) == ("todo", 1)
    assert copy.status == "cancelled"


def test_a_stalled_job_whose_different_namesake_waits_is_dropped() -> None:
    dead = _worker(seconds_since_heartbeat=300)
    payment = PaymentFactory.create()
    payments.request_refresh(payment=payment)
    stalled = _job_of(payment.pk, "payments.refresh_payment")
    _running(stalled, worker_id=dead)
    with connection.cursor() as cursor:  # the same queueing lock, other arguments
        cursor.execute(
            "UPDATE procrastinate_jobs SET args = '{\"payment_id\": 0}' WHERE id = %s",
            [stalled.pk],
        )
    payments.request_refresh(payment=payment)

    assert _recover() == 1

    stalled.refresh_from_db()
    assert stalled.status == "failed"
    waiting = ProcrastinateJob.objects.filter(task_name="payments.refresh_payment", status="todo")
    assert waiting.count() == 1


def test_a_job_that_keeps_killing_its_worker_is_given_up() -> None:
    dead = _worker(seconds_since_heartbeat=300)
    payment = PaymentFactory.create()
    payments._defer("payments.submit_payment", payment.pk, deduplicate=False)
    job = _job_of(payment.pk, "payments.submit_payment")
    _running(job, worker_id=dead, attempts=services.MAX_STALLED_RETRIES)

    assert _recover() == 1

    job.refresh_from_db()
    assert job.status == "failed"
