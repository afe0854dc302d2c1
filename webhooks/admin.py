from __future__ import annotations

from django.contrib import admin

from gateway.admin import ReadOnlyAdmin
from webhooks.models import InboundCallback


@admin.register(InboundCallback)
class InboundCallbackAdmin(ReadOnlyAdmin[InboundCallback]):
    """The raw callback log is evidence: nobody edits or deletes it here (rows expire after
    CALLBACK_RETENTION_DAYS, by the webhooks.purge_old_callbacks job)."""

    list_display = (
        "received_at",
        "provider",
        "outcome",
        "claimed_status",
        "payment",
        "remote_addr",
    )
    list_filter = ("provider", "outcome")
    search_fields = ("token", "payment__public_id", "body", "body_sha256")
    list_select_related = ("payment",)
    date_hierarchy = "received_at"
