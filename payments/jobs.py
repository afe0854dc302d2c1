"""Payment jobs. Each is one call; `lock=payment:<pk>` keeps two jobs off one payment."""

from __future__ import annotations

from procrastinate.contrib.django import app

from payments import idempotency, services


@app.task(queue="payments", name="payments.submit_payment")
def submit_payment(payment_id: int) -> None:
    services.submit_payment(payment_id=payment_id)


@app.task(queue="payments", name="payments.refresh_payment")
def refresh_payment(payment_id: int) -> None:
    services.refresh_payment(payment_id=payment_id)


@app.periodic(cron="*/5 * * * * *")  # every 5 seconds (6th column: seconds)
@app.task(queue="payments", name="payments.poll_due_payments")
def poll_due_payments(timestamp: int) -> None:
    services.poll_due_payments()


@app.periodic(cron="*/10 * * * *")
@app.task(queue="maintenance", name="payments.purge_idempotency_keys")
def purge_idempotency_keys(timestamp: int) -> None:
    idempotency.purge_expired()
