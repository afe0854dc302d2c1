"""Read-only views of the simulators' tables: they are logs of what the simulator saw."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from gateway.admin import ReadOnlyAdmin
from providers.sandbox.models import (
    MtnAccessToken,
    MtnApiUser,
    MtnCallbackAttempt,
    MtnConsent,
    MtnRejectedAttempt,
    MtnTransaction,
)
from providers.sandbox.mtn import selectors as mtn_selectors


@admin.register(MtnApiUser)
class MtnApiUserAdmin(ReadOnlyAdmin[MtnApiUser]):
    list_display = ["id", "provider_callback_host", "created_at"]
    search_fields = ["id"]
    exclude = ["api_key_hash"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Above the provisioned users, the credentials any MTN client can use right away
        (development keys of a simulator that production never mounts)."""
        extra = dict(extra_context or {})
        if settings.MTN_SIMULATOR_ENABLED and not settings.PRODUCTION:
            extra["mtn_credentials"] = mtn_selectors.get_credentials()
            extra["mtn_base_url"] = request.build_absolute_uri("/sandbox/mtn")
        return super().changelist_view(request, extra_context=extra)


@admin.register(MtnAccessToken)
class MtnAccessTokenAdmin(ReadOnlyAdmin[MtnAccessToken]):
    list_display = ["api_user_id", "product", "subject", "created_at", "expires_at"]
    list_filter = ["product"]
    search_fields = ["api_user_id"]
    exclude = ["token_hash"]


class MtnCallbackAttemptInline(admin.TabularInline[MtnCallbackAttempt, MtnTransaction]):
    model = MtnCallbackAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "attempt",
        "method",
        "url",
        "status_code",
        "error",
        "duration_ms",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MtnTransaction)
class MtnTransactionAdmin(ReadOnlyAdmin[MtnTransaction]):
    list_display = [
        "created_at",
        "product",
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
    list_filter = ["product", "kind", "scenario", "final_status", "target_environment"]
    search_fields = ["reference_id", "external_id", "party_id"]
    date_hierarchy = "created_at"
    inlines = [MtnCallbackAttemptInline]


@admin.register(MtnCallbackAttempt)
class MtnCallbackAttemptAdmin(ReadOnlyAdmin[MtnCallbackAttempt]):
    list_display = [
        "created_at",
        "transaction",
        "attempt",
        "method",
        "url",
        "status_code",
        "error",
        "duration_ms",
    ]
    search_fields = ["transaction__reference_id"]
    list_select_related = ["transaction"]


@admin.register(MtnRejectedAttempt)
class MtnRejectedAttemptAdmin(ReadOnlyAdmin[MtnRejectedAttempt]):
    list_display = ["created_at", "kind", "reference_id"]
    search_fields = ["reference_id"]


@admin.register(MtnConsent)
class MtnConsentAdmin(ReadOnlyAdmin[MtnConsent]):
    list_display = ["created_at", "product", "msisdn", "scope", "access_type", "approved"]
    list_filter = ["product", "approved"]
    search_fields = ["auth_req_id", "msisdn"]
