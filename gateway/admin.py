"""Admin pieces shared by every app."""

from __future__ import annotations

from functools import cached_property
from typing import Any, TypeVar

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

M = TypeVar("M", bound=models.Model)

# The app list beside every page takes a quarter of a laptop's width from the lists ops
# read (the payments list needs it at 1400 px); the home page and the breadcrumbs lead
# everywhere it did.
admin.site.enable_nav_sidebar = False


# A coloured label in lists and pages (a payment's status, a key's state, a reconciliation
# item's kind): its colours are gateway/static/gateway/admin.css's (the CSP refuses inline
# style), by tone.
TONES = frozenset({"good", "bad", "warn", "muted", "odd"})


def badge(label: object, tone: str) -> SafeString:
    assert tone in TONES, tone  # noqa: S101  # a programming error, caught by any test
    return format_html('<span class="badge badge-{}">{}</span>', tone, label)


class ReadOnlyAdmin(admin.ModelAdmin[M]):
    """For logs and evidence (audit trail, raw callbacks, simulator state): nobody adds,
    edits or deletes them from the back-office."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]  # pages of any model
    """For big tables: counts at most COUNT_CAP rows (a bounded scan, never a full COUNT(*)),
    so the pages past the cap are not offered; a filter or a search narrows the list."""

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        capped: models.QuerySet[Any] = self.object_list[: self.COUNT_CAP]  # type: ignore[assignment]  # the admin pages a QuerySet
        return capped.count()


# --- second-factor devices ----------------------------------------------------------------
# django-otp's own admin shows and edits a device's secret; ours lists devices and deletes
# one (a lost phone: its owner enrols a new one at the next sign-in), nothing else.
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

from gateway import staff_auth  # noqa: E402

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class StaffDeviceAdmin(ReadOnlyAdmin[TOTPDevice]):
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    list_select_related = ("user",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")  # never the key

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting is the one change (otp_totp.delete_totpdevice): a reset, audited.
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def delete_model(self, request: HttpRequest, obj: TOTPDevice) -> None:
        staff_auth.reset_second_factor(device=obj, actor=staff_auth.staff_actor(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:
        for device in queryset:
            self.delete_model(request, device)


# --- jobs ---------------------------------------------------------------------------------
# Procrastinate's job list, whose retry, cancel and abort actions it offers to anyone who may
# view the list. Cancelling a payment's submission or status check holds it back until the
# poller's safety net, and a retry runs a job again: ours needs JOB_PERMISSION (which asks
# for a second factor, gateway.staff_auth) and writes an audit row for each job it touches.
from procrastinate.contrib.django.admin import ProcrastinateJobAdmin  # noqa: E402
from procrastinate.contrib.django.models import ProcrastinateJob  # noqa: E402

from audit import services as audit  # noqa: E402
from tenants import selectors as tenant_selectors  # noqa: E402

JOB_PERMISSION = "procrastinate.change_procrastinatejob"

if admin.site.is_registered(ProcrastinateJob):
    admin.site.unregister(ProcrastinateJob)


@admin.register(ProcrastinateJob)
class JobAdmin(ProcrastinateJobAdmin):
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The queue is the whole gateway's (every tenant's payments): not for staff limited
        # to some tenants (tenants.StaffMembership).
        if tenant_selectors.list_staff_tenant_ids(user=request.user) is not None:
            return False
        return bool(super().has_view_permission(request, obj))

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(JOB_PERMISSION)

    def _audited(self, request: HttpRequest, queryset: QuerySet[Any], action: str) -> None:
        actor = staff_auth.staff_actor(request.user)
        for job in queryset:
            audit.record(
                actor=actor,
                action=f"job.{action}",
                target=job,
                tenant=None,
                data={"task": job.task_name, "status": job.status, "args": job.args},
            )

    @admin.action(description="Retry Job", permissions=["operate"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._audited(request, queryset.filter(status__in=("failed", "doing")), "retry")
        super().retry(request, queryset)

    @admin.action(description="Cancel Job (only 'todo' jobs)", permissions=["operate"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._audited(request, queryset.filter(status="todo"), "cancel")
        super().cancel(request, queryset)

    @admin.action(description="Abort Job (includes 'todo' & 'doing' jobs)", permissions=["operate"])
    def abort(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._audited(request, queryset.filter(status__in=("todo", "doing")), "abort")
        super().abort(request, queryset)

    actions = ["retry", "cancel", "abort"]  # the methods above, by name
