"""Ops view of payments: filters, search, and each payment's operator timeline."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from payments import services
from payments.ledger.models import Entry
from payments.models import Payment, Transaction
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


# The ledger's admin lives with the ledger; importing it here registers it.
from payments.ledger import admin as ledger_admin  # noqa: E402, F401
