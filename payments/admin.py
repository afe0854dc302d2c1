"""Ops view of payments: filters, search, and each payment's operator timeline."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from audit.services import Actor
from gateway.admin import CappedCountPaginator, badge
from gateway.errors import GatewayError, ValidationFailed
from payments import availability, errors, routes, selectors, services
from payments.ledger.models import Entry
from payments.models import Payment, Status
from providers import routing
from providers.base import FailureCode, Provider
from providers.models import AvailabilityOverride, OperatorConfig
from reconciliation import admin as reconciliation_admin
from reconciliation import services as reconciliation
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


class CreatedRangeFilter(admin.ListFilter):
    """Created between two dates, both included, as days in Lusaka (`created_from`,
    `created_to`, YYYY-MM-DD): a range on the created_at index, no per-day counts."""

    title = "created (Lusaka dates)"
    template = "admin/payments/payment/date_range_filter.html"
    parameters = ("created_from", "created_to")

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        for name in self.parameters:
            if name in params:
                value = params.pop(name)
                self.values[name] = value[-1] if isinstance(value, list) else value

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return list(self.parameters)

    def choices(self, changelist: Any) -> Any:
        others = {
            name: values
            for name, values in changelist.get_filters_params().items()
            if name not in self.parameters
        }
        if changelist.query:
            others["q"] = [changelist.query]
        yield {"values": self.values, "others": others}

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        start, end = self.values.get("created_from"), self.values.get("created_to")
        if start:
            queryset = queryset.filter(created_at__gte=_lusaka_midnight(start))
        if end:
            queryset = queryset.filter(created_at__lt=_lusaka_midnight(end, days_after=1))
        return queryset


def _lusaka_midnight(day: str, *, days_after: int = 0) -> datetime:
    try:
        parsed = date.fromisoformat(day)
    except ValueError as exc:
        raise IncorrectLookupParameters(f"{day!r} is not a date (YYYY-MM-DD).") from exc
    zone = ZoneInfo(settings.BACKOFFICE_TIME_ZONE)
    return datetime.combine(parsed + timedelta(days=days_after), time.min, tzinfo=zone)


# A failure code in the words ops read on the list (the code itself is the API's).
FAILURE_WORDS: dict[str, str] = {
    FailureCode.PAYER_NOT_FOUND: "No wallet for this number",
    FailureCode.INSUFFICIENT_FUNDS: "Not enough money in the wallet",
    FailureCode.PAYER_DECLINED: "The customer declined or did not approve",
    FailureCode.EXPIRED: "Not approved in time",
    FailureCode.LIMIT_EXCEEDED: "Over a wallet or account limit",
    FailureCode.NOT_ALLOWED: "The operator does not allow it",
    FailureCode.INVALID_MSISDN: "Not a valid number for the operator",
    FailureCode.PROVIDER_ERROR: "The operator reported an error",
    FailureCode.PROVIDER_UNAVAILABLE: "The operator could not be reached",
    FailureCode.CANCELLED: "Cancelled by the merchant before sending",
}


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


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text="Empty: what is left to refund.",
    )


STATUS_TONES = {Status.SUCCESSFUL: "good", Status.FAILED: "bad", Status.PENDING: "warn"}


@admin.register(Payment)
class PaymentAdmin(TenantScopedAdmin[Payment]):
    # What ops look for first, narrow enough for 1400 px beside the filters: status (with
    # why it failed), amount, the ids. The operator's transaction id is searched and on the
    # payment's page.
    list_display = (
        "public_id",
        "created_at",
        "status_badge",
        "amount_column",
        "msisdn",
        "route",
        "external_id",
        "tenant",
    )
    list_filter = (
        "status",
        NeedsReviewFilter,
        CreatedRangeFilter,
        reconciliation_admin.ReconciledFilter,
        "flow",
        "provider",
        "mode",
        "tenant",
    )
    # Searched by get_search_results: exact ids (indexable), a number in any accepted form.
    search_fields = ("public_id", "external_id", "msisdn", "provider_transaction_id")
    search_help_text = (
        "A payment id, external_id, operator transaction id, our operator reference, or a "
        "phone number in any form (+260 96 000 0001, 0960000001, 260960000001)."
    )
    list_select_related = ("tenant",)
    # No COUNT(*) over the whole table: counts stop at the paginator's cap.
    show_full_result_count = False
    paginator = CappedCountPaginator
    inlines = (InboundCallbackInline, EntryInline)
    actions = ("recheck_with_operator", "resolve_review", reconciliation_admin.mark_reconciled)
    # The page adds the actions panel (admin/payments/payment/actions_panel.html).
    change_form_template = "admin/payments/payment/change_form.html"
    # Read-only: a payment moves only through the state machine (services), never by hand.
    readonly_fields = (
        *(field.name for field in Payment._meta.fields),
        "next_action",
        "review",
        "timeline",
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its page is a view ("View payment", no SAVE); actions change it

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str
    ) -> tuple[QuerySet[Payment], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(public_id=term) | Q(external_id=term) | Q(provider_transaction_id=term)
        with contextlib.suppress(routing.InvalidMsisdn):
            match |= Q(msisdn=routing.normalize_msisdn(term))
        with contextlib.suppress(ValueError):
            match |= Q(provider_reference=uuid.UUID(term))
        return queryset.filter(match), False

    @admin.display(description="status", ordering="status")
    def status_badge(self, payment: Payment) -> SafeString:
        label = f"{payment.status} · review" if payment.needs_review else payment.status
        if payment.queued_at is not None and payment.status == Status.PENDING:
            label = f"{payment.status} · queued"
        tone = badge(label, STATUS_TONES[Status(payment.status)])
        if not payment.failure_code:
            return tone
        return format_html('{}<br><span class="quiet">{}</span>', tone, self.failure_words(payment))

    @admin.display(description="amount", ordering="amount")
    def amount_column(self, payment: Payment) -> str:
        return f"{payment.amount:,.2f} {payment.currency}"

    @admin.display(description="operator")
    def route(self, payment: Payment) -> str:
        """Where it went, what kind, which mode: "MTN MoMo · collection · test"."""
        return " · ".join(
            (Provider(payment.provider).label, payment.get_flow_display().lower(), payment.mode)
        )

    @admin.display(description="failure")
    def failure_words(self, payment: Payment) -> str:
        return FAILURE_WORDS.get(payment.failure_code, payment.failure_code) or "—"

    @admin.display(description="Operator calls (timeline)")
    def timeline(self, payment: Payment) -> SafeString:
        return render_to_string(
            "admin/payments/payment/timeline.html",
            {"steps": selectors.list_timeline(payment=payment)},
        )

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

    def has_mark_reconciled_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, reconciliation.MARK_PERMISSION)

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
            ),
            *(
                path(
                    f"<int:payment_pk>/{name}/",
                    self.admin_site.admin_view(getattr(self, f"{name}_view")),
                    name=f"payments_payment_{name}",
                )
                for name in ("recheck", "refund", "resolve")
            ),
        ]
        return own + super().get_urls()

    # --- the payment page's actions panel -------------------------------------------------
    # Each action is a POST to its own URL, declares its permission, checks it here (with a
    # message and no change without it) and calls the service, which checks it again and
    # leaves the audit row. The panel's template includes one template per action.

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        panel = {
            "refund_form": RefundForm(),
            "resolve_form": ResolveReviewForm(auto_id="resolve_%s"),
            "recheck_final_days": services.RECHECK_FINAL_WITHIN.days,
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **panel})

    def recheck_view(self, request: HttpRequest, payment_pk: int) -> HttpResponse:
        def recheck(payment: Payment, actor: Actor) -> str:
            queued = services.recheck_payment(payment=payment, actor=actor)
            if queued and payment.is_final:
                return (
                    f"Asking the operator whether it agrees with {payment.status}; its answer "
                    "joins the timeline (reload in a few seconds). The status stays as it is."
                )
            if queued:
                return "Queued a status check with the operator; reload in a few seconds."
            return f"Nothing to ask the operator about {payment} (the request is logged)."

        return self._panel_action(request, payment_pk, services.RECHECK_PERMISSION, recheck)

    def refund_view(self, request: HttpRequest, payment_pk: int) -> HttpResponse:
        form = RefundForm(request.POST)

        def refund(payment: Payment, actor: Actor) -> str:
            if not form.is_valid():
                raise ValidationFailed("The form is incomplete.", errors=_form_errors(form))
            made = services.create_refund(
                payment=payment, actor=actor, amount=form.cleaned_data["amount"]
            )
            return (
                f"Refund {made.public_id} of {made.amount} {made.currency} created; "
                "it goes to the operator now."
            )

        return self._panel_action(request, payment_pk, services.REFUND_PERMISSION, refund)

    def resolve_view(self, request: HttpRequest, payment_pk: int) -> HttpResponse:
        form = ResolveReviewForm(request.POST)

        def resolve(payment: Payment, actor: Actor) -> str:
            if not form.is_valid():
                raise ValidationFailed("The form is incomplete.", errors=_form_errors(form))
            data = form.cleaned_data
            settled = services.resolve_payment(
                payment=payment,
                status=Status(data["status"]),
                reason=data["reason"],
                provider_transaction_id=data["provider_transaction_id"],
                actor=actor,
            )
            return (
                f"{settled} is now {settled.status}; the ledger and the merchant's webhook follow."
            )

        return self._panel_action(request, payment_pk, services.RESOLVE_PERMISSION, resolve)

    def _panel_action(
        self,
        request: HttpRequest,
        payment_pk: int,
        permission: str,
        run: Callable[[Payment, Actor], str],
    ) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        payment = get_object_or_404(self.get_queryset(request), pk=payment_pk)
        back = HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
        if not has_perms(request, permission):
            messages.error(
                request, f"Refused: this needs the {permission} permission. Nothing changed."
            )
            return back
        try:
            done = run(payment, staff_actor(request))
        except GatewayError as exc:
            messages.error(request, f"Refused, nothing changed: {_problem_text(exc)}")
        else:
            messages.success(request, done)
        return back

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


def _form_errors(form: forms.Form) -> list[dict[str, str]]:
    return [
        {"field": field, "message": str(message)}
        for field, messages_ in form.errors.items()
        for message in messages_
    ]


def _problem_text(exc: GatewayError) -> str:
    fields = "; ".join(f"{error['field']}: {error['message']}" for error in exc.errors or [])
    return f"{exc.detail} ({fields})" if fields else exc.detail


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
