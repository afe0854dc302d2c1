"""The simulators' jobs (autodiscovered by Procrastinate). Each job is one service call."""

from __future__ import annotations

from procrastinate.contrib.django import app

from providers.sandbox.airtel import services as airtel_services
from providers.sandbox.mtn import services as mtn_services
from providers.sandbox.zamtel import services as zamtel_services


@app.task(queue="sandbox", name="sandbox.deliver_mtn_callback")
def deliver_mtn_callback(*, transaction_id: int, attempt: int = 1) -> None:
    # Each try is its own job: the service defers the next one on MTN's retry schedule.
    mtn_services.deliver_callback(transaction_id=transaction_id, attempt=attempt)


@app.task(queue="sandbox", name="sandbox.deliver_airtel_callback")
def deliver_airtel_callback(*, transaction_id: int) -> None:
    airtel_services.deliver_callback(transaction_id=transaction_id)


@app.task(queue="sandbox", name="sandbox.deliver_zamtel_callback")
def deliver_zamtel_callback(*, transaction_id: int) -> None:
    zamtel_services.deliver_callback(transaction_id=transaction_id)
