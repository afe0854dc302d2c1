from __future__ import annotations

from django.contrib import admin

from audit.models import AuditLog
from gateway.admin import ReadOnlyAdmin
from tenants.admin import TenantScopedAdmin


@admin.register(AuditLog)
class AuditLogAdmin(TenantScopedAdmin[AuditLog], ReadOnlyAdmin[AuditLog]):
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
