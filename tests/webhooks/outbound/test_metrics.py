"""Webhook gauges come from PostgreSQL at scrape time: by state, recent outcomes, latency,
backlog and the age of the oldest due delivery."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.webhooks.outbound.factories import attempt, endpoint_for, fanned_out, final_payment_event

pytestmark = pytest.mark.django_db


def _metrics() -> dict[str, float]:
    text = Client().get("/metrics").text
    values = {}
    for line in text.splitlines():
        if line.startswith("gateway_webhook"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_webhook_gauges(merchant, receiver, clock) -> None:
    ok, down = receiver(), receiver()
    down.always(503)
    endpoint_for(merchant.api_key.tenant, ok.url())
    endpoint_for(merchant.api_key.tenant, down.url())
    delivered, failed = fanned_out(final_payment_event(merchant.api_key.tenant))
    waiting = fanned_out(final_payment_event(merchant.api_key.tenant))
    clock.advance(seconds=2)
    attempt(delivered.pk)
    attempt(failed.pk)
    clock.advance(seconds=1)

    values = _metrics()

    assert values['gateway_webhook_deliveries{mode="test",state="succeeded"}'] == 1
    assert values['gateway_webhook_deliveries{mode="test",state="failed"}'] == 1
    assert values['gateway_webhook_deliveries{mode="test",state="pending"}'] == len(waiting)
    assert values['gateway_webhook_attempts_recently{mode="test",state="failed",status="5xx"}'] == 1
    assert values["gateway_webhook_backlog"] == 2  # the second event's, due since 3 s
    assert values["gateway_webhook_oldest_due_seconds"] == pytest.approx(3, abs=0.1)
    assert values['gateway_webhook_delivery_latency_seconds{quantile="0.5"}'] == pytest.approx(
        2, abs=0.1
    )
    assert 'gateway_webhook_attempt_duration_seconds{quantile="0.99"}' in values
    assert values['gateway_webhook_endpoints{mode="test",status="failing"}'] == 1
    assert values['gateway_webhook_endpoints{mode="test",status="enabled"}'] == 2
