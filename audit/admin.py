from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from audit.models import AuditLog
from gateway.admin import CappedCountPaginator, ReadOnlyAdmin
from tenants.admin import TenantScopedAdmin


@admin.register(AuditLog)
class AuditLogAdmin(TenantScopedAdmin[AuditLog], ReadOnlyAdmin[AuditLog]):
    """Read-only: the table is append-only in the database as well. Targets are named and
    found by their public ids (pay_…, sk_test_…, a tenant's id), never by primary keys."""

    list_display = [
        "created_at",
        "action",
        "target",
        "tenant",
        "actor_kind",
        "actor_label",
        "request_id",
    ]
    list_filter = ["action", "actor_kind", "target_type"]
    # Searched by get_search_results: exact ids (indexed), on a table that only grows.
    search_fields = ["target_ref", "request_id", "actor_label"]
    search_help_text = (
        "A payment id (pay_…), a key (sk_test_… or sk_live_…), a tenant id, an event or "
        "endpoint id, a request id, or a staff member's username."
    )
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = CappedCountPaginator

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditLog], search_term: str
    ) -> tuple[QuerySet[AuditLog], bool]:
        term = search_term.strip().rstrip("…")
        if not term:
            return queryset, False
        return queryset.filter(Q(target_ref=term) | Q(request_id=term) | Q(actor_label=term)), False

    @admin.display(description="target", ordering="target_ref")
    def target(self, row: AuditLog) -> SafeString:
        """The target's public id, linked to its admin page where it has one."""
        label = row.target_ref or f"#{row.target_id}"
        app_label, _, model_name = row.target_type.partition(".")
        try:
            url = reverse(f"admin:{app_label}_{model_name}_change", args=[row.target_id])
        except NoReverseMatch:
            return format_html("{} <code>{}</code>", model_name, label)
        return format_html('{} <a href="{}"><code>{}</code></a>', model_name, url, label)
