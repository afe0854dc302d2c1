"""Database helpers shared by every app."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, models, transaction

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


def columns(model: type[models.Model], alias: str) -> list[str]:
    """`alias."column"` for each of the model's concrete fields, in field order: a hot
    statement's select list, read back with `from_row`."""
    quote = connection.ops.quote_name
    return [f"{alias}.{quote(str(field.column))}" for field in model._meta.concrete_fields]


def from_row(model: type[_Row], values: Sequence[Any]) -> _Row:
    """The instance the ORM would make of a row of `columns(model)`: each field's
    `from_db_value` applied (a JSON column arrives as text), no query compiled."""
    converted = list(values)
    for index, converters, column in _converters(model):
        for convert in converters:
            converted[index] = convert(converted[index], column, connection)
    return model.from_db(connection.alias, _attnames(model), converted)


@functools.cache
def _attnames(model: type[models.Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@functools.cache
def _converters(model: type[models.Model]) -> list[tuple[int, list[Callable[..., Any]], Any]]:
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        converters = field.get_db_converters(connection)
        if converters:
            found.append((index, converters, field.get_col(model._meta.db_table)))
    return found
