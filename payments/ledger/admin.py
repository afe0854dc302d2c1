"""Ops and finance view of the ledger: accounts and entries are read-only (a balance moves
only by postings and audited adjustments), fee schedules are edited through services, and
finance's manual adjustment is a small form behind the `payments.adjust_balance` permission.

Imported by payments/admin.py, so that Django's autodiscovery registers it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from gateway.errors import ValidationFailed
from payments import errors
from payments.ledger import selectors
from payments.ledger import services as ledger
from payments.ledger.models import Account, AccountKind, Entry, EntryKind, FeeSchedule
from payments.services import SUPPORTED_CURRENCIES
from tenants import selectors as tenant_selectors
from tenants.admin import (
    TenantScopedAdmin,
    has_perms,
    show_on_form,
    staff_actor,
    visible_tenants,
)
from tenants.models import Mode, Tenant


def can_adjust(request: HttpRequest) -> bool:
    return has_perms(request, ledger.ADJUST_PERMISSION)


def _money(amount: Decimal | None) -> str:
    return "—" if amount is None else f"{amount:,.2f}"


class AccountEntryFilter(admin.SimpleListFilter):
    """`?account=<id>`: the entries with this account on either side (the account pages'
    link). Lists only the chosen account, so the sidebar stays short."""

    title = "account"
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if not (value and value.isdigit()):
            return []
        account = Account.objects.filter(pk=int(value)).first()
        return [(value, str(account))] if account else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not (value and value.isdigit()):
            return queryset
        return queryset.filter(Q(debit_account_id=int(value)) | Q(credit_account_id=int(value)))


class AdjustmentForm(forms.Form):
    # No default: real money (live) or test money is a choice made every time.
    mode = forms.ChoiceField(choices=[("", "---------"), *Mode.choices])
    currency = forms.ChoiceField(choices=[(c, c) for c in sorted(SUPPORTED_CURRENCIES)])
    amount = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Positive to credit the available balance, negative to debit it.",
    )
    reason = forms.CharField(
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the balance changes (a bank reference, a settlement, a correction).",
    )

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("A credit or a debit is not zero.")
        return amount


@admin.register(Account)
class AccountAdmin(TenantScopedAdmin[Account]):
    list_display = (
        "id",
        "kind",
        "tenant",
        "provider",
        "mode",
        "currency",
        "available_column",
        "reserved_column",
        "entries_link",
    )
    list_filter = ("kind", "mode", "provider", "currency")
    search_fields = ("tenant__name", "tenant__slug")
    list_select_related = ("tenant",)
    ordering = ("kind", "mode", "currency", "id")
    fields = readonly_fields = (
        "kind",
        "tenant",
        "provider",
        "mode",
        "currency",
        "credits_posted",
        "debits_posted",
        "debits_pending",
        "available_column",
        "reserved_column",
        "entries_link",
        "adjust_link",
        "created_at",
    )
    actions = ("adjust_balance",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return selectors.with_entry_balances(super().get_queryset(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts are opened by their first posting

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_adjust_balance_permission(self, request: HttpRequest) -> bool:
        return can_adjust(request)

    @admin.display(description="available / balance")
    def available_column(self, account: Account) -> str:
        """A merchant's available balance (its running totals); a gateway account's posted
        balance, credits minus debits, summed from its entries (an operator float is negative:
        it is debited when money reaches the operator)."""
        if account.kind == AccountKind.MERCHANT:
            return _money(account.available)
        return _money(getattr(account, "entry_posted", None))

    @admin.display(description="reserved / pending")
    def reserved_column(self, account: Account) -> str:
        if account.kind == AccountKind.MERCHANT:
            return _money(account.reserved)
        return _money(getattr(account, "entry_pending", None))

    @admin.display(description="entries")
    def entries_link(self, account: Account) -> str:
        url = reverse("admin:payments_entry_changelist") + f"?account={account.pk}"
        return format_html('<a href="{}">entries</a>', url)

    @admin.display(description="adjustment")
    def adjust_link(self, account: Account) -> str:
        if account.kind != AccountKind.MERCHANT:
            return "—"
        return format_html('<a href="{}">credit or debit…</a>', _adjust_url(account))

    @admin.action(
        description="Credit or debit the balance (finance)…", permissions=["adjust_balance"]
    )
    def adjust_balance(
        self, request: HttpRequest, queryset: QuerySet[Account]
    ) -> HttpResponse | None:
        accounts = list(queryset[:2])
        if len(accounts) != 1 or accounts[0].kind != AccountKind.MERCHANT:
            messages.error(request, "Select exactly one merchant account.")
            return None
        return HttpResponseRedirect(_adjust_url(accounts[0]))

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "float/",
                self.admin_site.admin_view(self.float_view),
                name="payments_account_float",
            ),
            path(
                "adjust/<uuid:tenant_id>/",
                self.admin_site.admin_view(self.adjust_view),
                name="payments_account_adjust",
            ),
        ]
        return own + super().get_urls()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {"float_url": reverse("admin:payments_account_float"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def float_view(self, request: HttpRequest) -> HttpResponse:
        """The operator floats in the ledger beside each operator's own balance. Not in a
        transaction: the admin's views run in autocommit, and the selector checks it. The
        gateway's own money: not for staff limited to some tenants."""
        limited = tenant_selectors.list_staff_tenant_ids(user=request.user) is not None
        if limited or not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Operator float: ledger vs operator",
            "lines": selectors.list_float_reconciliation(),
        }
        return TemplateResponse(request, "admin/payments/account/float.html", context)

    def adjust_view(self, request: HttpRequest, tenant_id: object) -> HttpResponse:
        """Finance's manual credit or debit of one tenant's balance, with a reason. The
        permission is checked here again: the action only leads to this page."""
        if not can_adjust(request):
            raise PermissionDenied
        tenant = get_object_or_404(visible_tenants(request), pk=tenant_id)
        if request.method == "POST":
            form = AdjustmentForm(request.POST)
            if form.is_valid() and self._adjust(request, tenant, form):
                return HttpResponseRedirect(
                    reverse("admin:payments_account_changelist") + f"?q={tenant.slug}"
                )
        else:
            form = AdjustmentForm(
                initial={
                    "mode": request.GET.get("mode", ""),
                    "currency": request.GET.get("currency", selectors.DEFAULT_CURRENCY),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Credit or debit the balance of {tenant}",
            "tenant": tenant,
            "form": form,
            "balances": [
                (mode.label, selectors.get_balance(tenant=tenant, mode=mode)) for mode in Mode
            ],
        }
        return TemplateResponse(request, "admin/payments/account/adjust.html", context)

    def _adjust(self, request: HttpRequest, tenant: Tenant, form: AdjustmentForm) -> bool:
        data = form.cleaned_data
        try:
            entry = ledger.adjust_balance(
                tenant=tenant,
                mode=data["mode"],
                amount=data["amount"],
                currency=data["currency"],
                reason=data["reason"],
                actor=staff_actor(request),
                kind=EntryKind.ADJUSTMENT,
            )
        except errors.InsufficientBalance as exc:
            messages.error(request, f"Refused, nothing changed: {exc.detail}")
            return False
        except ValidationFailed as exc:
            show_on_form(form, exc)
            return False
        verb = "Credited" if data["amount"] > 0 else "Debited"
        messages.success(
            request,
            f"{verb} {abs(data['amount'])} {data['currency']} ({data['mode']}) to {tenant}: "
            f"available is now {entry.available_after}.",
        )
        return True


def _adjust_url(account: Account) -> str:
    url = reverse("admin:payments_account_adjust", args=[account.tenant_id])
    return f"{url}?mode={account.mode}&currency={account.currency}"


@admin.register(Entry)
class EntryAdmin(TenantScopedAdmin[Entry]):
    # An entry is a merchant's when either side is its account (the other is the gateway's).
    tenant_paths = ("debit_account__tenant", "credit_account__tenant")

    list_display = (
        "id",
        "created_at",
        "kind",
        "phase",
        "amount",
        "currency",
        "mode",
        "debit_account",
        "credit_account",
        "payment",
        "available_after",
        "reserved_after",
        "actor_label",
        "description",
    )
    list_filter = (AccountEntryFilter, "kind", "phase", "mode", "created_at")
    search_fields = ("payment__public_id", "description", "actor_label")
    list_select_related = ("debit_account", "credit_account", "payment")
    date_hierarchy = "created_at"
    # Append-only, in the database too (a trigger): a mistake is corrected by a new entry.
    readonly_fields = tuple(field.name for field in Entry._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FeeSchedule)
class FeeScheduleAdmin(TenantScopedAdmin[FeeSchedule]):
    """A tenant's prices. A change applies to payments created afterwards only: each payment
    keeps the fee copied onto it when it was created."""

    list_display = ("tenant", "provider", "flow", "percent", "fixed", "minimum", "updated_at")
    list_filter = ("provider", "flow")
    search_fields = ("tenant__name", "tenant__slug")
    list_select_related = ("tenant",)
    autocomplete_fields = ("tenant",)
    fields = ("tenant", "provider", "flow", "percent", "fixed", "minimum")

    def save_model(
        self,
        request: HttpRequest,
        obj: FeeSchedule,
        form: forms.ModelForm[FeeSchedule],
        change: bool,
    ) -> None:
        ledger.save_fee_schedule(schedule=obj, actor=staff_actor(request))

    def delete_model(self, request: HttpRequest, obj: FeeSchedule) -> None:
        ledger.delete_fee_schedule(schedule=obj, actor=staff_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FeeSchedule]) -> None:
        for schedule in queryset:
            ledger.delete_fee_schedule(schedule=schedule, actor=staff_actor(request))
