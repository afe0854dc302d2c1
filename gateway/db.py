"""Database helpers shared by every app."""

from __future__ import annotations

from typing import TypeVar

from django.db import models, transaction

_Row = TypeVar("_Row", bound=models.Model)


def ensure_outside_transaction() -> None:
    """Raise if the caller holds a transaction: provider and merchant I/O must never run in one.

    An empty durable block makes Django itself raise when nested (pytest-django's test
    transaction is exempt, so services stay testable in ordinary tests).
    """
    with transaction.atomic(durable=True):
        pass


def unique_or_none(rows: models.QuerySet[_Row]) -> _Row | None:
    """The one row a lookup by a unique key finds, or None.

    Unlike `.first()`, without an ORDER BY: sorting at most one row is useless to PostgreSQL,
    and compiling the model's default ordering is a good part of the ORM's cost of a query.
    """
    return next(iter(rows.order_by()[:1]), None)
