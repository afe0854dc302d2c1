"""Admin pieces shared by every app."""

from __future__ import annotations

from functools import cached_property
from typing import Any, TypeVar

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest

M = TypeVar("M", bound=models.Model)


class ReadOnlyAdmin(admin.ModelAdmin[M]):
    """For logs and evidence (audit trail, raw callbacks, simulator state): nobody adds,
    edits or deletes them from the back-office."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]  # pages of any model
    """For big tables: counts at most COUNT_CAP rows (a bounded scan, never a full COUNT(*)),
    so the pages past the cap are not offered; a filter or a search narrows the list."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        capped: models.QuerySet[Any] = self.object_list[: self.COUNT_CAP]  # type: ignore[assignment]  # the admin pages a QuerySet
        return capped.count()
