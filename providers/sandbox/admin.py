"""Read-only views of the simulators' tables: they are logs of what the simulator saw."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gateway.admin import ReadOnlyAdmin
from providers.sandbox.models import (
    MtnAccessToken,
    MtnApiUser,
    MtnCallbackAttempt,
    MtnRejectedAttempt,
    MtnTransaction,
)


@admin.register(MtnApiUser)
class MtnApiUserAdmin(ReadOnlyAdmin[MtnApiUser]):
    list_display = ["id", "provider_callback_host", "created_at"]
    search_fields = ["id"]
    exclude = ["api_key_hash"]


@admin.register(MtnAccessToken)
class MtnAccessTokenAdmin(ReadOnlyAdmin[MtnAccessToken]):
    list_display = ["api_user_id", "product", "created_at", "expires_at"]
    list_filter = ["product"]
    search_fields = ["api_user_id"]
    exclude = ["token_hash"]


class MtnCallbackAttemptInline(admin.TabularInline[MtnCallbackAttempt, MtnTransaction]):
    model = MtnCallbackAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "url", "status_code", "error", "duration_ms")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MtnTransaction)
class MtnTransactionAdmin(ReadOnlyAdmin[MtnTransaction]):
    list_display = [
        "created_at",
        "kind",
        "reference_id",
        "target_environment",
        "amount",
        "currency",
        "scenario",
        "final_status",
        "reason",
        "outcome_at",
    ]
    list_filter = ["kind", "scenario", "final_status", "target_environment"]
    search_fields = ["reference_id", "external_id", "party_id"]
    date_hierarchy = "created_at"
    inlines = [MtnCallbackAttemptInline]


@admin.register(MtnCallbackAttempt)
class MtnCallbackAttemptAdmin(ReadOnlyAdmin[MtnCallbackAttempt]):
    list_display = ["created_at", "transaction", "url", "status_code", "error", "duration_ms"]
    search_fields = ["transaction__reference_id"]
    list_select_related = ["transaction"]


@admin.register(MtnRejectedAttempt)
class MtnRejectedAttemptAdmin(ReadOnlyAdmin[MtnRejectedAttempt]):
    list_display = ["created_at", "kind", "reference_id"]
    search_fields = ["reference_id"]
