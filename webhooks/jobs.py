"""Periodic housekeeping of the callback log. Each job is one call; the work lives in services."""

from __future__ import annotations

from procrastinate.contrib.django import app

from webhooks import services


@app.periodic(cron="45 * * * *")
@app.task(queue="maintenance", name="webhooks.purge_old_callbacks")
def purge_old_callbacks(timestamp: int) -> None:
    services.purge_old_callbacks()
