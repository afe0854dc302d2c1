"""Payment jobs, each one service call. Deferred by name from services (no import cycle).

Queues keep slow work apart: `operator` jobs wait on an operator (seconds, or a timeout), so
they run on workers of their own; `scheduler` jobs (poller, expiry, recovery) only touch
PostgreSQL and must run on time whatever the operators do.
"""

from __future__ import annotations

from django.conf import settings
from django.db import InterfaceError, OperationalError
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from payments import idempotency, services

OPERATOR_QUEUE = "operator"
SCHEDULER_QUEUE = "scheduler"
# A database blip mid-job is retried soon; the retry takes over its own earlier attempt's
# lease on the payment (services._claim) and sends nothing twice.
_DATABASE_RETRY = RetryStrategy(
    max_attempts=5, exponential_wait=2, retry_exceptions={OperationalError, InterfaceError}
)


@app.task(queue=OPERATOR_QUEUE, name="payments.submit_payment", retry=_DATABASE_RETRY)
def submit_payment(payment_id: int) -> None:
    services.submit_payment(payment_id=payment_id)


@app.task(queue=OPERATOR_QUEUE, name="payments.refresh_payment", retry=_DATABASE_RETRY)
def refresh_payment(payment_id: int, scheduled: bool = True) -> None:
    services.refresh_payment(payment_id=payment_id, scheduled=scheduled)


@app.task(queue=OPERATOR_QUEUE, name="payments.compare_with_operator", retry=_DATABASE_RETRY)
def compare_with_operator(payment_id: int) -> None:
    services.compare_with_operator(payment_id=payment_id)


@app.periodic(cron=f"*/{settings.PAYMENT_POLLER_INTERVAL_SECONDS} * * * * *")  # 6th column: s
@app.task(queue=SCHEDULER_QUEUE, name="payments.poll_due_payments")
def poll_due_payments(timestamp: int) -> None:
    services.poll_due_payments()


@app.periodic(cron="*/30 * * * * *")
@app.task(queue=SCHEDULER_QUEUE, name="payments.expire_overdue_payments")
def expire_overdue_payments(timestamp: int) -> None:
    services.expire_overdue_payments()


@app.periodic(cron="*/10 * * * *")
@app.task(queue="maintenance", name="payments.purge_idempotency_keys")
def purge_idempotency_keys(timestamp: int) -> None:
    idempotency.purge_expired()
