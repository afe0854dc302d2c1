"""Webhook jobs, each one service call. Deferred by name from services (no import cycle).

Merchant deliveries run on the `webhooks` queue, on workers of their own: a slow or dead
merchant never delays a payment job. The fan-out and the dispatcher only touch PostgreSQL and
run on `scheduler`; housekeeping of the callback log on `maintenance`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import InterfaceError, OperationalError
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from gateway import schedules
from webhooks import services
from webhooks.outbound import services as outbound

WEBHOOKS_QUEUE = "webhooks"
# A database blip mid-job is retried soon; a delivery's own lease lets the retry take over.
_DATABASE_RETRY = RetryStrategy(
    max_attempts=5, exponential_wait=2, retry_exceptions={OperationalError, InterfaceError}
)


@app.periodic(cron="45 * * * *")
@app.task(queue="maintenance", name="webhooks.purge_old_callbacks")
def purge_old_callbacks(timestamp: int) -> None:
    services.purge_old_callbacks()


@app.task(queue="scheduler", name=outbound.FAN_OUT_TASK, retry=_DATABASE_RETRY)
def fan_out_event(event_id: int) -> None:
    outbound.fan_out_event(event_id=event_id)


@app.task(queue=WEBHOOKS_QUEUE, name=outbound.DELIVER_TASK, retry=_DATABASE_RETRY)
def deliver(endpoint_id: int, slot: int) -> None:
    outbound.deliver_due(endpoint_id=endpoint_id, slot=slot)


@app.periodic(cron=schedules.every_seconds(settings.WEBHOOK_DISPATCH_INTERVAL_SECONDS))
@app.task(queue="scheduler", name="webhooks.dispatch_due_deliveries")
def dispatch_due_deliveries(timestamp: int) -> None:
    outbound.dispatch_due_deliveries()
