from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from gateway.admin import ReadOnlyAdmin
from tenants.admin import TenantScopedAdmin, has_perms, staff_actor
from webhooks.models import InboundCallback
from webhooks.outbound import services as outbound
from webhooks.outbound.models import (
    DeadDelivery,
    Delivery,
    DeliveryState,
    Event,
    WebhookEndpoint,
)

_M = TypeVar("_M", bound=models.Model)
SECRETS_PERMISSION = "payments.view_payment_secrets"  # callback tokens, as on the payment page


@admin.register(InboundCallback)
class InboundCallbackAdmin(TenantScopedAdmin[InboundCallback], ReadOnlyAdmin[InboundCallback]):
    """The raw callback log is evidence: nobody edits or deletes it here (rows expire after
    CALLBACK_RETENTION_DAYS, by the webhooks.purge_old_callbacks job). The token in the URL
    is a payment's callback credential: shown and searchable only with the secrets
    permission. A callback matching no payment belongs to no tenant: hidden from staff
    limited to some tenants."""

    tenant_paths = ("payment__tenant",)

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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        return fields if _sees_secrets(request) else [f for f in fields if f != "token"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_readonly_fields(request, obj)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        fields = tuple(self.search_fields)
        return fields if _sees_secrets(request) else tuple(f for f in fields if f != "token")


def _sees_secrets(request: HttpRequest) -> bool:
    return has_perms(request, SECRETS_PERMISSION)


# --- outbound merchant webhooks -------------------------------------------------------------


class _NoEdits(admin.ModelAdmin[_M]):
    """Rows that change only through services: no add, edit or delete from the back-office."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin[WebhookEndpoint], _NoEdits[WebhookEndpoint]):
    """Merchants' endpoints and their health. The secrets are never shown here."""

    list_display = (
        "public_id",
        "tenant",
        "mode",
        "url",
        "enabled",
        "last_success_at",
        "last_failure_at",
        "consecutive_failures",
        "disabled_reason",
        "created_at",
    )
    list_filter = ("mode", ("disabled_at", admin.EmptyFieldListFilter), "tenant")
    search_fields = ("public_id", "url", "tenant__name", "tenant__slug")
    list_select_related = ("tenant",)
    exclude = ("secret", "previous_secret")
    actions = ("disable_endpoints", "enable_endpoints")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        hidden = {"secret", "previous_secret"}
        return [f.name for f in self.model._meta.fields if f.name not in hidden]

    @admin.display(boolean=True, description="enabled")
    def enabled(self, endpoint: WebhookEndpoint) -> bool:
        return endpoint.is_enabled

    @admin.action(description="Disable (stop deliveries)", permissions=["change"])
    def disable_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    @admin.action(
        description="Enable again (deliveries that died meanwhile stay dead)",
        permissions=["change"],
    )
    def enable_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    def _set_enabled(
        self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint], *, enabled: bool
    ) -> None:
        actor = staff_actor(request)
        for endpoint in queryset:
            outbound.set_webhook_endpoint_enabled(endpoint=endpoint, enabled=enabled, actor=actor)
        messages.info(
            request, f"{queryset.count()} endpoint(s) {'enabled' if enabled else 'disabled'}."
        )


class DeliveryInline(admin.TabularInline):  # type: ignore[type-arg]  # django-stubs: untyped inline
    model = Delivery
    extra = 0
    can_delete = False
    fields = (
        "public_id",
        "endpoint",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status",
        "last_error",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(TenantScopedAdmin[Event], ReadOnlyAdmin[Event]):
    """Events are immutable (a trigger refuses changes): what was sent, and to whom."""

    list_display = ("public_id", "created_at", "tenant", "mode", "type", "payment", "fanned_out_at")
    list_filter = ("type", "mode")
    search_fields = ("public_id", "payment__public_id", "tenant__name")
    list_select_related = ("tenant", "payment")
    date_hierarchy = "created_at"
    inlines = (DeliveryInline,)


class _DeliveryAdminBase(TenantScopedAdmin[Delivery], _NoEdits[Delivery]):
    list_display = (
        "public_id",
        "created_at",
        "event",
        "endpoint",
        "tenant",
        "mode",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status",
        "last_error",
        "duration_ms",
    )
    list_filter = ("state", "mode", "event__type")
    search_fields = ("public_id", "event__public_id", "endpoint__public_id", "endpoint__url")
    list_select_related = ("event", "endpoint", "tenant")
    date_hierarchy = "created_at"
    actions = ("resend",)

    def has_resend_delivery_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, outbound.RESEND_PERMISSION)

    @admin.action(
        description="Resend now (same webhook-id; a finished delivery starts over)",
        permissions=["resend_delivery"],
    )
    def resend(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        actor = staff_actor(request)
        deliveries = list(queryset)
        queued = sum(
            outbound.resend_delivery(delivery=delivery, actor=actor) for delivery in deliveries
        )
        messages.info(
            request,
            f"Queued {queued} delivery(ies); {len(deliveries) - queued} skipped "
            "(endpoint disabled).",
        )


@admin.register(Delivery)
class DeliveryAdmin(_DeliveryAdminBase):
    pass


@admin.register(DeadDelivery)
class DeadLetterAdmin(_DeliveryAdminBase):
    """Deliveries that will not be tried again unless resent."""

    list_filter = ("mode", "event__type", "tenant")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).filter(state=DeliveryState.DEAD)
