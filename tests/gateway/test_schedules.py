"""Sub-minute periodic jobs fire at their interval all day (Procrastinate's sixth cron field
is the seconds, last)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from croniter import croniter  # type: ignore[import-untyped]  # procrastinate's dependency; no stubs pinned
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from procrastinate.contrib.django import app

from gateway import schedules

# Found by the chaos run (bench/chaos.py): written `*/N * * * * *`, these fired every second
# of every Nth minute and then not at all for N - 1 minutes, so the poller, the expiry sweep
# and the stalled-job recovery stopped for minutes at a time.
SUB_MINUTE = {
    "gateway.recover_stalled_jobs": "JOB_RECOVERY_INTERVAL_SECONDS",
    "payments.poll_due_payments": "PAYMENT_POLLER_INTERVAL_SECONDS",
    "payments.expire_overdue_payments": 30,
    "webhooks.dispatch_due_deliveries": "WEBHOOK_DISPATCH_INTERVAL_SECONDS",
}


@pytest.mark.parametrize(("task_name", "interval"), SUB_MINUTE.items())
def test_sub_minute_jobs_fire_at_their_interval_for_an_hour(task_name, interval) -> None:
    seconds = getattr(settings, interval) if isinstance(interval, str) else interval
    periodic = {task.task.name: task for task in app.periodic_registry.periodic_tasks.values()}
    start = datetime(2026, 12, 1, 16, 1, 7, tzinfo=UTC).timestamp()
    cron = croniter(periodic[task_name].cron, start)

    ticks = [cron.get_next(float) for _ in range(3600 // seconds)]

    assert {round(b - a) for a, b in itertools.pairwise(ticks)} == {seconds}
    assert ticks[-1] - start <= 3600


@pytest.mark.parametrize("seconds", [0, 7, 45, 61])
def test_an_interval_that_does_not_divide_a_minute_is_refused(seconds) -> None:
    with pytest.raises(ImproperlyConfigured):
        schedules.every_seconds(seconds)
