from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from webhooks.models import InboundCallback


@admin.register(InboundCallback)
class InboundCallbackAdmin(admin.ModelAdmin[InboundCallback]):
    """The raw callback log is evidence: nobody edits or deletes it here."""

    list_display = (
        "received_at",
        "provider",
        "outcome",
        "claimed_status",
        "payment",
        "remote_addr",
    )
    list_filter = ("provider", "outcome")
    search_fields = ("token", "payment__public_id", "body")
    list_select_related = ("payment",)
    date_hierarchy = "received_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
