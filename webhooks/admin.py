from __future__ import annotations

from django.contrib import admin

from gateway.admin import ReadOnlyAdmin
from webhooks.models import InboundCallback


@admin.register(InboundCallback)
class InboundCallbackAdmin(ReadOnlyAdmin[InboundCallback]):
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
