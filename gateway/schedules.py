"""Cron expressions for periodic jobs that run more often than once a minute.

Procrastinate's cron (croniter) takes a sixth field for seconds, *after* the five usual ones:
`minute hour day month weekday second`. `*/5 * * * * *` is therefore every second of every
fifth minute (60 runs, then four minutes of none), not every five seconds.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def every_seconds(seconds: int) -> str:
    """A cron that fires every `seconds` seconds, all day: `seconds` must divide 60."""
    if seconds < 1 or 60 % seconds:
        raise ImproperlyConfigured(f"{seconds} s is not a divisor of 60")
    return f"* * * * * */{seconds}"
