"""Ops back-office for tenants and keys. Every change goes through tenants.services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from audit.models import ActorKind
from audit.services import Actor
from gateway.errors import ValidationFailed
from tenants import services
from tenants.models import ApiKey, Mode, Tenant


def staff_actor(request: HttpRequest) -> Actor:
    user = request.user
    return Actor(kind=ActorKind.USER, id=str(user.pk), label=user.get_username())


def show_on_form(form: forms.Form, exc: ValidationFailed) -> None:
    """A service's field errors on the admin form that fed it (others above the form)."""
    for error in exc.errors or []:
        field = error["field"] if error["field"] in form.fields else None
        form.add_error(field, error["message"])


def _show_secret(request: HttpRequest, issued: services.IssuedKey) -> None:
    # Shown once, in the flash message of this response, and never stored.
    messages.warning(
        request,
        f"New {issued.api_key.mode} key for {issued.api_key.tenant}: {issued.secret} "
        "(copy it now: it will not be shown again)",
    )


_INLINE_KEY_FIELDS = (
    "display",
    "mode",
    "name",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
)


class ApiKeyInline(admin.TabularInline[ApiKey, Tenant]):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = readonly_fields = _INLINE_KEY_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # keys are issued by the actions, which show the secret once


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    list_display = ["name", "slug", "is_active", "default_currency", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "id"]
    # Read-only: changes go through the actions, which call services and leave audit rows.
    fields = readonly_fields = ("id", "name", "slug", "is_active", "default_currency", "created_at")
    inlines = [ApiKeyInline]
    actions = ["issue_test_key", "issue_live_key", "deactivate", "activate", "adjust_balance"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: payments and the audit trail point at tenants

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # `manage.py create_tenant` creates tenants with their keys and audit row

    def has_adjust_balance_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.adjust_balance")

    @admin.action(
        description="Credit or debit its balance (finance)…", permissions=["adjust_balance"]
    )
    def adjust_balance(
        self, request: HttpRequest, queryset: QuerySet[Tenant]
    ) -> HttpResponse | None:
        """To the ledger's adjustment form (payments.ledger.admin), which checks again."""
        tenants = list(queryset[:2])
        if len(tenants) != 1:
            messages.error(request, "Select exactly one tenant.")
            return None
        return HttpResponseRedirect(reverse("admin:payments_account_adjust", args=[tenants[0].pk]))

    @admin.action(description="Deactivate (its keys stop working at once)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.set_tenant_active(tenant=tenant, active=False, actor=staff_actor(request))

    @admin.action(description="Activate")
    def activate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.set_tenant_active(tenant=tenant, active=True, actor=staff_actor(request))

    @admin.action(description="Issue a new test key")
    def issue_test_key(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._issue(request, queryset, Mode.TEST)

    @admin.action(description="Issue a new live key")
    def issue_live_key(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        self._issue(request, queryset, Mode.LIVE)

    def _issue(self, request: HttpRequest, queryset: QuerySet[Tenant], mode: Mode) -> None:
        actor = staff_actor(request)
        for tenant in queryset:
            issued = services.issue_api_key(tenant=tenant, mode=mode, name="admin", actor=actor)
            _show_secret(request, issued)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = [
        "display",
        "tenant",
        "mode",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["mode"]
    search_fields = ["prefix", "tenant__name", "tenant__slug", "name"]
    list_select_related = ["tenant"]
    fields = readonly_fields = (
        "tenant",
        "mode",
        "name",
        "display",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    actions = ["rotate", "revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead, so the audit trail keeps the key it refers to

    @admin.action(description="Rotate (old key keeps working for the grace period)")
    def rotate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        grace = timedelta(hours=settings.API_KEY_ROTATION_GRACE_HOURS)
        for api_key in queryset:
            _show_secret(
                request,
                services.rotate_api_key(api_key=api_key, actor=staff_actor(request), grace=grace),
            )

    @admin.action(description="Revoke now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            services.revoke_api_key(api_key=api_key, actor=staff_actor(request))
        messages.success(request, f"Revoked {queryset.count()} key(s).")
