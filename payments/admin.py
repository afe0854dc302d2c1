"""Ops view of payments: filters, search, and each payment's operator timeline."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from payments import availability, routes, services
from payments.ledger.models import Entry
from payments.models import Payment, Transaction
from providers.models import AvailabilityOverride, OperatorConfig
from tenants.admin import staff_actor
from webhooks.models import InboundCallback


class _ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TransactionInline(_ReadOnlyInline):
    model = Transaction
    verbose_name_plural = "Operator calls (timeline)"
    fields = (
        "created_at",
        "provider",
        "operation",
        "method",
        "status_code",
        "outcome",
        "error",
        "duration_ms",
        "request_body",
        "response_body",
    )
    readonly_fields = fields


class InboundCallbackInline(_ReadOnlyInline):
    model = InboundCallback
    verbose_name_plural = "Operator callbacks"
    fields = ("received_at", "method", "claimed_status", "outcome", "signature_valid", "body")
    readonly_fields = fields


class EntryInline(_ReadOnlyInline):
    model = Entry
    fk_name = "payment"
    verbose_name_plural = "Ledger entries"
    fields = (
        "created_at",
        "kind",
        "phase",
        "amount",
        "debit_account",
        "credit_account",
        "available_after",
        "reserved_after",
    )
    readonly_fields = fields
    ordering = ("created_at", "id")


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin[Payment]):
    list_display = (
        "public_id",
        "created_at",
        "tenant",
        "mode",
        "flow",
        "provider",
        "amount",
        "fee",
        "currency",
        "status",
        "failure_code",
    )
    list_filter = ("status", "flow", "provider", "mode", "tenant")
    search_fields = (
        "public_id",
        "external_id",
        "msisdn",
        "provider_reference",
        "provider_transaction_id",
    )
    list_select_related = ("tenant",)
    date_hierarchy = "created_at"
    inlines = (TransactionInline, InboundCallbackInline, EntryInline)
    actions = ("recheck_with_operator",)
    # Read-only: a payment moves only through the state machine (services), never by hand.
    readonly_fields = tuple(field.name for field in Payment._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Re-check with the operator (queues a status refresh)")
    def recheck_with_operator(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        payments = list(queryset)
        queued = sum(services.request_refresh(payment=payment) for payment in payments)
        messages.info(
            request,
            f"Queued a status check for {queued} pending payment(s); "
            f"{len(payments) - queued} already final.",
        )


@admin.register(OperatorConfig)
class OperatorConfigAdmin(admin.ModelAdmin[OperatorConfig]):
    """A tenant's use of an operator per mode. No row: enabled, no fallback, no limits.
    Changes are audited and apply to payments created afterwards."""

    list_display = ("tenant", "mode", "provider", "enabled", "allow_fallback", "updated_at")
    list_filter = ("mode", "provider", "enabled", "allow_fallback")
    search_fields = ("tenant__name", "tenant__slug")
    list_select_related = ("tenant",)
    autocomplete_fields = ("tenant",)
    fieldsets = (
        (None, {"fields": ("tenant", "mode", "provider", "enabled", "allow_fallback")}),
        ("Collections", {"fields": ("collection_min", "collection_max", "collection_daily_cap")}),
        (
            "Payouts",
            {"fields": ("disbursement_min", "disbursement_max", "disbursement_daily_cap")},
        ),
        ("Refunds", {"fields": ("refund_min", "refund_max", "refund_daily_cap")}),
    )

    def save_model(
        self,
        request: HttpRequest,
        obj: OperatorConfig,
        form: forms.ModelForm[OperatorConfig],
        change: bool,
    ) -> None:
        routes.save_operator_config(config=obj, actor=staff_actor(request))

    def delete_model(self, request: HttpRequest, obj: OperatorConfig) -> None:
        routes.delete_operator_config(config=obj, actor=staff_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[OperatorConfig]) -> None:
        for config in queryset:
            routes.delete_operator_config(config=config, actor=staff_actor(request))


@admin.register(AvailabilityOverride)
class AvailabilityOverrideAdmin(admin.ModelAdmin[AvailabilityOverride]):
    """Ops' word on an operator's availability: it wins over the computed state until it
    expires or is ended (never edited; each override and its end are audited)."""

    list_display = (
        "provider",
        "mode",
        "operation",
        "state",
        "reason",
        "expires_at",
        "ended_at",
        "created_by",
        "created_at",
    )
    list_filter = ("provider", "mode", "state")
    fields = ("provider", "mode", "operation", "state", "reason", "expires_at")
    actions = ("end_overrides",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self,
        request: HttpRequest,
        obj: AvailabilityOverride,
        form: forms.ModelForm[AvailabilityOverride],
        change: bool,
    ) -> None:
        saved = availability.set_override(
            provider=obj.provider,
            mode=obj.mode,
            operation=obj.operation,
            state=obj.state,
            reason=obj.reason,
            expires_at=obj.expires_at,
            actor=staff_actor(request),
            user_id=request.user.pk,
        )
        obj.pk = saved.pk

    @admin.action(description="End the selected overrides now")
    def end_overrides(self, request: HttpRequest, queryset: QuerySet[AvailabilityOverride]) -> None:
        for override in queryset:
            availability.end_override(override=override, actor=staff_actor(request))
        messages.info(request, "Ended; the computed availability applies again.")


# The ledger's admin lives with the ledger; importing it here registers it.
from payments.ledger import admin as ledger_admin  # noqa: E402, F401
