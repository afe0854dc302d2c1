"""Ops back-office for tenants and keys. Every change goes through tenants.services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from audit.models import ActorKind
from audit.services import Actor
from gateway.admin import badge
from gateway.errors import ValidationFailed
from payments import selectors as payment_selectors
from tenants import selectors, services
from tenants.models import ApiKey, KeyState, Mode, StaffMembership, Tenant

M = TypeVar("M", bound=models.Model)


def staff_actor(request: HttpRequest) -> Actor:
    user = request.user
    return Actor(kind=ActorKind.USER, id=str(user.pk), label=user.get_username(), user=user)


def show_on_form(form: forms.Form, exc: ValidationFailed) -> None:
    """A service's field errors on the admin form that fed it (others above the form)."""
    for error in exc.errors or []:
        field = error["field"] if error["field"] in form.fields else None
        form.add_error(field, error["message"])


def visible_tenants(request: HttpRequest) -> QuerySet[Tenant]:
    """The tenants this staff user may see (for custom admin views)."""
    allowed = selectors.list_staff_tenant_ids(user=request.user)
    return Tenant.objects.all() if allowed is None else Tenant.objects.filter(pk__in=allowed)


class TenantFilter(admin.RelatedFieldListFilter):
    """The tenant filter of the sidebar, listing only the tenants the user may see."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        choices = super().field_choices(field, request, model_admin)
        allowed = selectors.list_staff_tenant_ids(user=request.user)
        if allowed is None:
            return choices
        names = {str(pk) for pk in allowed}
        return [(pk, label) for pk, label in choices if str(pk) in names]


class TenantScopedAdmin(admin.ModelAdmin[M]):
    """Every admin of tenant data: a staff user limited to some tenants (StaffMembership)
    sees only their rows, in lists, pages, custom views (through `get_queryset`), the tenant
    filter and the tenant choices of forms and autocompletes. `tenant_paths` are the lookups
    from the row to its tenant: a row is visible when any of them is an allowed tenant."""

    tenant_paths: ClassVar[Sequence[str]] = ("tenant",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[M]:
        queryset = super().get_queryset(request)
        allowed = selectors.list_staff_tenant_ids(user=request.user)
        if allowed is None:
            return queryset
        visible = Q()
        for lookup in self.tenant_paths:
            visible |= Q(**{f"{lookup}__in": allowed})
        return queryset.filter(visible)

    def get_list_filter(self, request: HttpRequest) -> Any:
        tenant_fields = set(self.tenant_paths) - {"pk"}
        return [
            (item, TenantFilter) if isinstance(item, str) and item in tenant_fields else item
            for item in super().get_list_filter(request)
        ]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Tenant:
            kwargs["queryset"] = visible_tenants(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def new_keys_page(
    request: HttpRequest, *, title: str, issued: Sequence[services.IssuedKey]
) -> TemplateResponse:
    """The one page a new key's secret is ever shown on, as the answer to the request that
    made it: never stored, never in a message or a redirect, not cached by the browser."""
    response = TemplateResponse(
        request,
        "admin/tenants/new_keys.html",
        {
            **admin.site.each_context(request),
            "title": title,
            "issued": issued,
            "opts": Tenant._meta,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _keys_answer(
    request: HttpRequest, *, title: str, issued: Sequence[services.IssuedKey]
) -> HttpResponse | None:
    """A key action's answer: the new keys' page, or back to the list when none was issued
    (no selected row was one the user may see)."""
    if issued:
        return new_keys_page(request, title=title, issued=issued)
    messages.warning(request, "No key issued: none of the selected rows is yours to see.")
    return None


KEY_STATE_TONES = {
    KeyState.ACTIVE: "good",
    KeyState.GRACE: "warn",
    KeyState.REVOKED: "bad",
    KeyState.EXPIRED: "muted",
}


def key_state_badge(api_key: ApiKey) -> SafeString:
    state = KeyState(api_key.state)  # type: ignore[attr-defined]  # selectors.with_key_state
    label = state.label
    if state is KeyState.GRACE and api_key.expires_at is not None:
        label = f"{label} until {formats.localize(timezone.localtime(api_key.expires_at))}"
    return badge(label, KEY_STATE_TONES[state])


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(state.value), str(state.label)) for state in KeyState]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        if not self.value():
            return queryset
        return queryset.filter(state=self.value())  # type: ignore[misc]  # with_key_state's annotation


_INLINE_KEY_FIELDS = (
    "display",
    "state",
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return selectors.with_key_state(super().get_queryset(request))

    @admin.display(description="state")
    def state(self, api_key: ApiKey) -> SafeString:
        return key_state_badge(api_key)


def has_perms(request: HttpRequest, *permissions: str) -> bool:
    """For the `has_<name>_permission` methods behind `@admin.action(permissions=[<name>])`:
    the admin hides the action without them (the service checks again)."""
    return all(request.user.has_perm(permission) for permission in permissions)


class NewTenantForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="The merchant's name, as ops know it.")
    live = forms.BooleanField(
        required=False,
        label="Also issue a live key",
        help_text="Needs the tenants.issue_live_key permission. A test key is always issued.",
    )


# A tenant page's totals cover this many days (on the tenant's indexes, whatever the table).
TOTALS_DAYS = 30


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin[Tenant]):
    list_display = ["name", "slug", "is_active", "default_currency", "created_at", "payments"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "id"]
    # Read-only: changes go through the actions, which call services and leave audit rows.
    fields = readonly_fields = (
        "id",
        "name",
        "slug",
        "is_active",
        "default_currency",
        "created_at",
        "payments",
        "totals",
    )
    inlines = [ApiKeyInline]
    tenant_paths = ("pk",)
    actions = ["issue_test_key", "issue_live_key", "deactivate", "activate", "adjust_balance"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: payments and the audit trail point at tenants

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its page is a view ("View tenant", no SAVE); the actions change it

    @admin.display(description="payments")
    def payments(self, tenant: Tenant) -> SafeString:
        url = reverse("admin:payments_payment_changelist")
        return format_html('<a href="{}?tenant__id__exact={}">its payments →</a>', url, tenant.pk)

    @admin.display(description=f"totals, last {TOTALS_DAYS} days")
    def totals(self, tenant: Tenant) -> str:
        since = timezone.now() - timedelta(days=TOTALS_DAYS)
        return render_to_string(
            "admin/tenants/tenant/totals.html",
            {
                "rows": payment_selectors.list_tenant_totals(tenant=tenant, since=since),
                "payments_url": reverse("admin:payments_payment_changelist"),
                "tenant": tenant,
            },
        )

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """A tenant with its first keys, through the service (audited); the keys' secrets on
        the page that answers, once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = NewTenantForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                created = services.create_tenant(
                    name=form.cleaned_data["name"],
                    live=form.cleaned_data["live"],
                    actor=staff_actor(request),
                )
            except PermissionDenied as exc:
                form.add_error("live", f"Refused, nothing created: {exc}")
            except ValidationFailed as exc:
                show_on_form(form, exc)
            else:
                return new_keys_page(
                    request, title=f"{created.tenant} created", issued=created.keys
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add tenant",
            "form": form,
        }
        return TemplateResponse(request, "admin/tenants/tenant/add.html", context)

    def has_adjust_balance_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, "payments.adjust_balance")

    def has_activate_tenant_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, services.ACTIVATE_PERMISSION)

    def has_manage_api_keys_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, services.MANAGE_KEYS_PERMISSION)

    def has_issue_live_key_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, services.MANAGE_KEYS_PERMISSION, services.LIVE_KEY_PERMISSION)

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

    @admin.action(
        description="Deactivate (its keys stop working at once)", permissions=["activate_tenant"]
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.set_tenant_active(tenant=tenant, active=False, actor=staff_actor(request))

    @admin.action(description="Activate", permissions=["activate_tenant"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.set_tenant_active(tenant=tenant, active=True, actor=staff_actor(request))

    @admin.action(description="Issue a new test key", permissions=["manage_api_keys"])
    def issue_test_key(
        self, request: HttpRequest, queryset: QuerySet[Tenant]
    ) -> HttpResponse | None:
        return self._issue(request, queryset, Mode.TEST)

    @admin.action(description="Issue a new live key", permissions=["issue_live_key"])
    def issue_live_key(
        self, request: HttpRequest, queryset: QuerySet[Tenant]
    ) -> HttpResponse | None:
        return self._issue(request, queryset, Mode.LIVE)

    def _issue(
        self, request: HttpRequest, queryset: QuerySet[Tenant], mode: Mode
    ) -> HttpResponse | None:
        actor = staff_actor(request)
        issued = [
            services.issue_api_key(tenant=tenant, mode=mode, name="admin", actor=actor)
            for tenant in queryset
        ]
        return _keys_answer(request, title=f"New {mode} keys", issued=issued)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin[ApiKey]):
    list_display = [
        "display",
        "state",
        "tenant",
        "mode",
        "name",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = [KeyStateFilter, "mode"]
    search_fields = ["prefix", "tenant__name", "tenant__slug", "name"]
    list_select_related = ["tenant"]
    fields = readonly_fields = (
        "tenant",
        "mode",
        "name",
        "display",
        "state",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    actions = ["rotate", "revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return selectors.with_key_state(super().get_queryset(request))

    @admin.display(description="state", ordering="state")
    def state(self, api_key: ApiKey) -> SafeString:
        return key_state_badge(api_key)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead, so the audit trail keeps the key it refers to

    def has_manage_api_keys_permission(self, request: HttpRequest) -> bool:
        return has_perms(request, services.MANAGE_KEYS_PERMISSION)

    @admin.action(
        description="Rotate (old key keeps working for the grace period)",
        permissions=["manage_api_keys"],
    )
    def rotate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponse | None:
        grace = timedelta(hours=settings.API_KEY_ROTATION_GRACE_HOURS)
        issued = [
            services.rotate_api_key(api_key=api_key, actor=staff_actor(request), grace=grace)
            for api_key in queryset
        ]
        return _keys_answer(request, title="Rotated keys", issued=issued)

    @admin.action(description="Revoke now", permissions=["manage_api_keys"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            services.revoke_api_key(api_key=api_key, actor=staff_actor(request))
        messages.success(request, f"Revoked {queryset.count()} key(s).")


@admin.register(StaffMembership)
class StaffMembershipAdmin(TenantScopedAdmin[StaffMembership]):
    """Which tenants a staff user is limited to (none: all of them)."""

    list_display = ["user", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["user__username", "tenant__name", "tenant__slug"]
    list_select_related = ["user", "tenant"]
    autocomplete_fields = ["tenant"]
    fields = ["user", "tenant"]
