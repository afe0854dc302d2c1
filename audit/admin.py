from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin[AuditLog]):
    """Read-only: the table is append-only in the database as well."""

    list_display = [
        "created_at",
        "action",
        "target_type",
        "target_id",
        "tenant",
        "actor_kind",
        "actor_label",
        "request_id",
    ]
    list_filter = ["action", "actor_kind", "target_type"]
    search_fields = ["target_id", "request_id", "actor_label", "tenant__name"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
