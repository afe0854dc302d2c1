"""Ops view of payments: filters, search, and each payment's operator timeline."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from gateway.errors import ValidationFailed
from payments import availability, errors, routes, services
from payments.ledger.models import Entry
from payments.models import Payment, Status, Transaction
from providers.models import AvailabilityOverride, OperatorConfig
from tenants.admin import TenantScopedAdmin, has_perms, show_on_form, staff_actor
from webhooks.models import InboundCallback

SECRETS_PERMISSION = "payments.view_payment_secrets"


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
        "url",
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


class NeedsReviewFilter(admin.SimpleListFilter):
    title = "manual review"
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("needed", "Needs manual review"), ("resolved", "Settled after a review")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Payment]) -> QuerySet[Payment]:
        flagged = queryset.filter(review_flagged_at__isnull=False)
        if self.value() == "needed":
            return flagged.filter(status=Status.PENDING)
        if self.value() == "resolved":
            return flagged.exclude(status=Status.PENDING)
        return queryset


class ResolveReviewForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            ("", "---------"),
            (Status.SUCCESSFUL, "Successful: the money moved"),
            (Status.FAILED, "Failed: the money did not move"),
        ],
        label="Outcome at the operator",
    )
    reason = forms.CharField(
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="How the outcome was established (the operator's portal, a statement, a "
        "support ticket): recorded in the audit trail.",
    )
    provider_transaction_id = forms.CharField(
        max_length=64, required=False, help_text="The operator's id, when it moved the money."
    )


@admin.register(Payment)
class PaymentAdmin(TenantScopedAdmin[Payment]):
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
        "next_action",
    )
    list_filter = ("status", NeedsReviewFilter, "flow", "provider", "mode", "tenant")
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
    actions = ("recheck_with_operator", "resolve_review")
    # Read-only: a payment moves only through the state machine (services), never by hand.
    readonly_fields = (*(field.name for field in Payment._meta.fields), "next_action", "review")

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        # The callback token is a credential: whoever knows it can post a callback for this
        # payment (the operator's side of the verification still applies).
        return () if has_perms(request, SECRETS_PERMISSION) else ("callback_token",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        hidden = set(self.get_exclude(request, obj))
        return [name for name in self.readonly_fields if name not in hidden]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_recheck_payment_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, services.RECHECK_PERMISSION)

    @admin.action(
        description="Re-check with the operator (queues a status refresh)",
        permissions=["recheck_payment"],
    )
    def recheck_with_operator(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        actor = staff_actor(request)
        payments = list(queryset.select_related("tenant"))
        queued = sum(services.recheck_payment(payment=payment, actor=actor) for payment in payments)
        messages.info(
            request,
            f"Queued a status check for {queued} pending payment(s); "
            f"{len(payments) - queued} already final.",
        )

    @admin.display(description="manual review")
    def review(self, payment: Payment) -> str:
        if not payment.needs_review:
            return "—"
        url = reverse("admin:payments_payment_resolve_review", args=[payment.pk])
        return format_html('needed: <a href="{}">settle after a manual review…</a>', url)

    def has_resolve_review_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, services.RESOLVE_REVIEW_PERMISSION)

    @admin.action(description="Settle after a manual review (ops)…", permissions=["resolve_review"])
    def resolve_review(
        self, request: HttpRequest, queryset: QuerySet[Payment]
    ) -> HttpResponse | None:
        payments = list(queryset[:2])
        if len(payments) != 1 or not payments[0].needs_review:
            messages.error(request, "Select exactly one payment that needs a manual review.")
            return None
        return HttpResponseRedirect(
            reverse("admin:payments_payment_resolve_review", args=[payments[0].pk])
        )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:payment_pk>/resolve-review/",
                self.admin_site.admin_view(self.resolve_review_view),
                name="payments_payment_resolve_review",
            )
        ]
        return own + super().get_urls()

    def resolve_review_view(self, request: HttpRequest, payment_pk: int) -> HttpResponse:
        """The outcome ops established, with a reason. The permission is checked here again:
        the action only leads to this page."""
        if not self.has_resolve_review_permission(request):
            raise PermissionDenied
        payment = get_object_or_404(self.get_queryset(request), pk=payment_pk)
        form = ResolveReviewForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid() and self._resolve(request, payment, form):
            return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Settle {payment} after a manual review",
            "payment": payment,
            "form": form,
            "calls": payment.provider_calls.all(),
        }
        return TemplateResponse(request, "admin/payments/payment/resolve_review.html", context)

    def _resolve(self, request: HttpRequest, payment: Payment, form: ResolveReviewForm) -> bool:
        data = form.cleaned_data
        try:
            settled = services.resolve_review(
                payment=payment,
                status=Status(data["status"]),
                reason=data["reason"],
                provider_transaction_id=data["provider_transaction_id"],
                actor=staff_actor(request),
            )
        except errors.PaymentNotUnderReview as exc:
            messages.error(request, f"Refused, nothing changed: {exc.detail}")
            return False
        except ValidationFailed as exc:
            show_on_form(form, exc)
            return False
        messages.success(request, f"{settled} is now {settled.status}; the ledger follows.")
        return True


@admin.register(OperatorConfig)
class OperatorConfigAdmin(TenantScopedAdmin[OperatorConfig]):
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
        # Changing means ending (the action); an override is never edited on its page.
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

    @admin.action(description="End the selected overrides now", permissions=["change"])
    def end_overrides(self, request: HttpRequest, queryset: QuerySet[AvailabilityOverride]) -> None:
        for override in queryset:
            availability.end_override(override=override, actor=staff_actor(request))
        messages.info(request, "Ended; the computed availability applies again.")


# The ledger's admin lives with the ledger; importing it here registers it.
from payments.ledger import admin as ledger_admin  # noqa: E402, F401
