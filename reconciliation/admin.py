"""Finance's back-office: import statements, work through what differs, the daily summary.

Runs of a whole operator's statement are the gateway's (every tenant's payments): staff
limited to some tenants see only runs of their tenants' statements, and the items of their
tenants in any run.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from gateway.admin import CappedCountPaginator, ReadOnlyAdmin, badge
from gateway.errors import ValidationFailed
from payments.models import Payment
from providers.base import Provider
from reconciliation import services
from reconciliation.models import (
    MISMATCHES,
    ItemKind,
    PaymentReconciliation,
    ReconciliationItem,
    ReconciliationRun,
    Resolution,
)
from reports import selectors as reports
from tenants import selectors as tenant_selectors
from tenants.admin import TenantScopedAdmin, has_perms, show_on_form, staff_actor, visible_tenants
from tenants.models import Mode, Tenant

KIND_TONES = {
    ItemKind.MATCHED: "good",
    ItemKind.MISSING_HERE: "bad",
    ItemKind.MISSING_THERE: "bad",
    ItemKind.AMOUNT_DIFFERS: "warn",
    ItemKind.STATUS_DIFFERS: "warn",
    ItemKind.SETTLED_AFTER_EXPIRY: "odd",
}
# The widest daily summary one page or export shows.
SUMMARY_MAX_DAYS = 92


class StatementImportForm(forms.Form):
    provider = forms.ChoiceField(choices=Provider.choices, initial=Provider.MTN)
    mode = forms.ChoiceField(choices=Mode.choices, initial=Mode.LIVE)
    tenant: forms.ModelChoiceField[Tenant] = forms.ModelChoiceField(
        queryset=Tenant.objects.none(),
        required=False,
        help_text="Only for one merchant's statement; empty: the operator's whole statement.",
    )
    file = forms.FileField(help_text="The operator's CSV export (docs/reconciliation.md).")

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tenant_field = self.fields["tenant"]
        assert isinstance(tenant_field, forms.ModelChoiceField)  # noqa: S101  # declared above
        tenant_field.queryset = visible_tenants(request)
        if tenant_selectors.list_staff_tenant_ids(user=request.user) is not None:
            tenant_field.required = True  # a limited user imports only their tenants' statements


class ResolveItemForm(forms.Form):
    resolution = forms.ChoiceField(
        choices=[(r.value, r.label) for r in Resolution if r is not Resolution.OPEN]
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class NoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="How it was checked (statement, portal, operator support): in the audit trail.",
    )


class SummaryForm(forms.Form):
    start = forms.DateField(label="From (Lusaka day)")
    end = forms.DateField(label="To (Lusaka day)")
    mode = forms.ChoiceField(choices=[("", "both"), *Mode.choices], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and not timedelta(0) <= end - start < timedelta(days=SUMMARY_MAX_DAYS):
            raise forms.ValidationError(f"From before To, at most {SUMMARY_MAX_DAYS} days.")
        return data


def _summary_rows(request: HttpRequest, data: dict[str, Any]) -> list[reports.SummaryRow]:
    return reports.list_daily_summary(
        start=data["start"],
        end=data["end"],
        mode=data.get("mode") or None,
        tenant_ids=tenant_selectors.list_staff_tenant_ids(user=request.user),
    )


SUMMARY_COLUMNS = [
    "day",
    "tenant",
    "tenant_id",
    "provider",
    "mode",
    "flow",
    "status",
    "count",
    "total",
]


def _csv_lines(rows: list[reports.SummaryRow]) -> Any:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SUMMARY_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.day.isoformat(),
                row.tenant,
                row.tenant_id,
                row.provider,
                row.mode,
                row.flow,
                row.status,
                row.count,
                f"{row.total:.2f}",
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(TenantScopedAdmin[ReconciliationRun]):
    list_display = (
        "created_at",
        "provider",
        "mode",
        "tenant",
        "period_start",
        "period_end",
        "lines",
        "mismatch_column",
        "imported_by",
    )
    list_filter = ("provider", "mode", "tenant")
    list_select_related = ("tenant",)
    readonly_fields = (
        "provider",
        "mode",
        "tenant",
        "filename",
        "period_start",
        "period_end",
        "lines",
        "imported_by",
        "created_at",
        "items_by_kind",
    )
    exclude = ("counts",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a run is made by importing a statement (the import page)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="mismatches")
    def mismatch_column(self, run: ReconciliationRun) -> SafeString:
        url = reverse("admin:reconciliation_reconciliationitem_changelist")
        return format_html(
            '<a href="{}?run__id__exact={}&amp;kind__in={}">{}</a>',
            url,
            run.pk,
            ",".join(MISMATCHES),
            run.mismatches,
        )

    @admin.display(description="items")
    def items_by_kind(self, run: ReconciliationRun) -> SafeString:
        url = reverse("admin:reconciliation_reconciliationitem_changelist")
        parts = [
            format_html(
                '<a href="{}?run__id__exact={}&amp;kind__exact={}">{}: {}</a>',
                url,
                run.pk,
                kind.value,
                kind.label,
                run.counts.get(kind.value, 0),
            )
            for kind in ItemKind
        ]
        return format_html("<br>".join(["{}"] * len(parts)), *parts)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="reconciliation_reconciliationrun_import",
            ),
            path(
                "daily-summary/",
                self.admin_site.admin_view(self.summary_view),
                name="reconciliation_daily_summary",
            ),
        ]
        return own + super().get_urls()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {
            "can_import": has_perms(request, services.IMPORT_PERMISSION),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a statement (finance): the run's mismatches are shown next."""
        if not has_perms(request, services.IMPORT_PERMISSION):
            raise PermissionDenied
        posted = request.method == "POST"
        form = StatementImportForm(
            request.POST if posted else None, request.FILES if posted else None, request=request
        )
        if posted and form.is_valid():
            data = form.cleaned_data
            upload = data["file"]
            try:
                run = services.reconcile_statement(
                    provider=data["provider"],
                    mode=data["mode"],
                    tenant=data["tenant"],
                    rows=io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline=""),
                    filename=upload.name or "statement.csv",
                    actor=staff_actor(request),
                )
            except ValidationFailed as exc:
                show_on_form(form, exc)
            except UnicodeDecodeError:
                form.add_error("file", "The file is not UTF-8 text.")
            else:
                messages.success(
                    request,
                    f"{run.lines} lines compared: {run.mismatches} to look at "
                    f"({', '.join(f'{k}: {v}' for k, v in sorted(run.counts.items()))}).",
                )
                return HttpResponseRedirect(
                    reverse("admin:reconciliation_reconciliationrun_change", args=[run.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import an operator statement",
            "form": form,
        }
        return TemplateResponse(request, "admin/reconciliation/import.html", context)

    def summary_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        """Per day, tenant and operator: count and sum by status; `export=csv` streams it as
        CSV (export permission)."""
        if not has_perms(request, "reconciliation.view_reconciliationrun"):
            raise PermissionDenied
        last = reports.today()
        initial = {"start": (last - timedelta(days=6)).isoformat(), "end": last.isoformat()}
        form = SummaryForm(request.GET or initial)
        can_export = has_perms(request, services.EXPORT_PERMISSION)
        rows: list[reports.SummaryRow] = []
        if form.is_valid():
            rows = _summary_rows(request, form.cleaned_data)
            if request.GET.get("export") == "csv":
                if not can_export:
                    raise PermissionDenied
                return _csv_response(rows, form.cleaned_data["start"], form.cleaned_data["end"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Daily summary per tenant and operator",
            "form": form,
            "rows": rows,
            "can_export": can_export,
            "query": request.GET.urlencode(),
        }
        return TemplateResponse(request, "admin/reconciliation/summary.html", context)


def _csv_response(rows: list[reports.SummaryRow], start: date, end: date) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="summary-{start}-{end}.csv"'
    return response


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(TenantScopedAdmin[ReconciliationItem]):
    list_display = (
        "run",
        "line_number",
        "kind_badge",
        "payment_link",
        "tenant",
        "operator_transaction_id",
        "statement_amount",
        "statement_status",
        "our_amount",
        "our_status",
        "resolution",
    )
    list_filter = ("kind", "resolution", "run__provider", "tenant")
    search_fields = ("operator_transaction_id",)
    list_select_related = ("run", "tenant", "payment")
    show_full_result_count = False
    paginator = CappedCountPaginator
    readonly_fields = (
        "run",
        "kind",
        "payment_link",
        "tenant",
        "line_number",
        "operator_transaction_id",
        "statement_amount",
        "statement_status",
        "our_amount",
        "our_status",
        "line",
        "resolution",
        "note",
        "resolved_by",
        "resolved_at",
        "resolve_link",
    )
    exclude = ("payment",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReconciliationItem]:
        queryset = super().get_queryset(request)
        kinds = request.GET.get("kind__in")
        return queryset.filter(kind__in=kinds.split(",")) if kinds else queryset

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        return lookup == "kind__in" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # resolved on its own page (resolve permission)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="kind", ordering="kind")
    def kind_badge(self, item: ReconciliationItem) -> SafeString:
        return badge(item.get_kind_display(), KIND_TONES[ItemKind(item.kind)])

    @admin.display(description="payment")
    def payment_link(self, item: ReconciliationItem) -> SafeString | str:
        if item.payment is None:
            return "—"
        url = reverse("admin:payments_payment_change", args=[item.payment_id])
        return format_html('<a href="{}">{}</a>', url, item.payment.public_id)

    @admin.display(description="resolve")
    def resolve_link(self, item: ReconciliationItem) -> SafeString | str:
        if item.resolution != Resolution.OPEN:
            return "—"
        url = reverse("admin:reconciliation_reconciliationitem_resolve", args=[item.pk])
        return format_html('<a href="{}">resolve with a note…</a>', url)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:item_pk>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="reconciliation_reconciliationitem_resolve",
            )
        ]
        return own + super().get_urls()

    def resolve_view(self, request: HttpRequest, item_pk: int) -> HttpResponse:
        if not has_perms(request, services.RESOLVE_PERMISSION):
            raise PermissionDenied
        item = get_object_or_404(self.get_queryset(request), pk=item_pk)
        form = ResolveItemForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.resolve_item(
                    item=item,
                    resolution=Resolution(form.cleaned_data["resolution"]),
                    note=form.cleaned_data["note"],
                    actor=staff_actor(request),
                )
            except ValidationFailed as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, "Resolved; the audit trail has your note.")
                return HttpResponseRedirect(
                    reverse("admin:reconciliation_reconciliationitem_change", args=[item.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Resolve: {item.get_kind_display()}",
            "item": item,
            "form": form,
        }
        return TemplateResponse(request, "admin/reconciliation/resolve.html", context)


@admin.register(PaymentReconciliation)
class PaymentReconciliationAdmin(
    TenantScopedAdmin[PaymentReconciliation], ReadOnlyAdmin[PaymentReconciliation]
):
    list_display = ("payment", "tenant", "reconciled_by", "created_at", "note")
    list_select_related = ("payment", "tenant")
    list_filter = ("tenant",)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "mark/",
                self.admin_site.admin_view(self.mark_view),
                name="reconciliation_mark_reconciled",
            )
        ]
        return own + super().get_urls()

    def mark_view(self, request: HttpRequest) -> HttpResponse:
        """Mark the payments named by `payment` (pks, repeated) reconciled with one note."""
        if not has_perms(request, services.MARK_PERMISSION):
            raise PermissionDenied
        source = request.POST if request.method == "POST" else request.GET
        payments = list(
            _visible_payments(request).filter(pk__in=_pks(source.getlist("payment")))[:100]
        )
        form = NoteForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid() and payments:
            done = []
            for payment in payments:
                try:
                    services.mark_payment_reconciled(
                        payment=payment, note=form.cleaned_data["note"], actor=staff_actor(request)
                    )
                    done.append(payment.public_id)
                except ValidationFailed as exc:
                    messages.warning(
                        request, exc.errors[0]["message"] if exc.errors else exc.detail
                    )
            if done:
                messages.success(request, f"Marked reconciled: {', '.join(done)}.")
            target = (
                reverse("admin:payments_payment_change", args=[payments[0].pk])
                if len(payments) == 1
                else reverse("admin:payments_payment_changelist")
            )
            return HttpResponseRedirect(target)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Mark reconciled",
            "payments": payments,
            "form": form,
        }
        return TemplateResponse(request, "admin/reconciliation/mark.html", context)


def _pks(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.isdigit()]


def _visible_payments(request: HttpRequest) -> QuerySet[Payment]:
    allowed = tenant_selectors.list_staff_tenant_ids(user=request.user)
    payments = Payment.objects.all()
    return payments if allowed is None else payments.filter(tenant_id__in=allowed)


# --- what the payments list uses (payments.admin) ------------------------------------------


@admin.action(description="Mark reconciled with a note… (finance)", permissions=["mark_reconciled"])
def mark_reconciled(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Payment]
) -> HttpResponse:
    pks = list(queryset.values_list("pk", flat=True)[:100])
    query = "&".join(f"payment={pk}" for pk in pks)
    return HttpResponseRedirect(f"{reverse('admin:reconciliation_mark_reconciled')}?{query}")


class ReconciledFilter(admin.SimpleListFilter):
    title = "reconciled by hand"
    parameter_name = "reconciled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Marked reconciled"), ("no", "Not marked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Payment]) -> QuerySet[Payment]:
        marked = Exists(PaymentReconciliation.objects.filter(payment=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(marked)
        if self.value() == "no":
            return queryset.filter(~marked)
        return queryset
