"""Database helpers shared by every app."""

from __future__ import annotations

from django.db import transaction


def ensure_outside_transaction() -> None:
    """Raise if the caller holds a transaction: provider and merchant I/O must never run in one.

    An empty durable block makes Django itself raise when nested (pytest-django's test
    transaction is exempt, so services stay testable in ordinary tests).
    """
    with transaction.atomic(durable=True):
        pass
