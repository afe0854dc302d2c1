"""Payout batches in the back-office: read-only lists and pages, finance's CSV upload (the
add page) and the cancel action. Every write goes through payouts.services, which checks the
staff user's permission again."""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from gateway.errors import GatewayError, ValidationFailed, field_errors
from payouts import selectors, services
from payouts.models import MAX_ITEMS, PayoutBatch, PayoutBatchItem, Source
from payouts.serializers import PayoutBatchCreateSerializer
from tenants.admin import TenantScopedAdmin, staff_actor, visible_tenants
from tenants.models import Mode, Tenant

COLUMNS = ("external_id", "amount", "msisdn", "provider", "description")
REQUIRED_COLUMNS = {"external_id", "amount", "msisdn"}


class UploadForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none())  # the user's, per request
    # No default: real money (live) or test money is a choice made every time.
    mode = forms.ChoiceField(choices=[("", "---------"), *Mode.choices])
    file = forms.FileField(
        help_text=f"CSV in UTF-8 with a header line: {', '.join(COLUMNS)} (provider and "
        f"description may be left out or empty); at most {MAX_ITEMS} payouts."
    )

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tenant_field = self.fields["tenant"]
        assert isinstance(tenant_field, forms.ModelChoiceField)  # noqa: S101  # declared above
        tenant_field.queryset = visible_tenants(request)

    def clean_file(self) -> list[dict[str, Any]]:
        """The rows as the API's batch items, checked by the API's own serializer; each error
        names its line of the file."""
        upload = self.cleaned_data["file"]
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
        reader = csv.DictReader(io.StringIO(text))
        header = {name.strip() for name in reader.fieldnames or []}
        if missing := REQUIRED_COLUMNS - header:
            raise forms.ValidationError(f"The header line lacks {', '.join(sorted(missing))}.")
        if unknown := header - set(COLUMNS):
            raise forms.ValidationError(f"Unknown columns: {', '.join(sorted(unknown))}.")
        rows = [
            {
                name.strip(): value.strip()
                for name, value in row.items()
                if name and value and value.strip()
            }
            for row in reader
        ]
        payload = PayoutBatchCreateSerializer(data={"items": rows})
        if not payload.is_valid():
            raise forms.ValidationError(_lines(field_errors(payload.errors)))
        items: list[dict[str, Any]] = payload.validated_data["items"]
        return items


def _lines(errors: list[dict[str, str]]) -> list[str]:
    """`items.3.msisdn` -> `line 5, msisdn: …` (line 1 is the header)."""
    lines = []
    for error in errors:
        parts = error["field"].split(".")
        if len(parts) >= 2 and parts[0] == "items" and parts[1].isdigit():
            where = f"line {int(parts[1]) + 2}" + (f", {parts[2]}" if len(parts) > 2 else "")
        else:
            where = "the file"
        lines.append(f"{where}: {error['message']}")
    return lines


class PayoutBatchItemInline(admin.TabularInline[PayoutBatchItem, PayoutBatch]):
    model = PayoutBatchItem
    fields = ("index", "external_id", "amount", "msisdn", "payment_link", "state")
    readonly_fields = fields
    ordering = ("index",)
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[PayoutBatchItem]:
        return super().get_queryset(request).select_related("payment")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="payment")
    def payment_link(self, item: PayoutBatchItem) -> str:
        if item.payment is None:
            return f"already used by {item.duplicate_of}"
        url = reverse("admin:payments_payment_change", args=[item.payment.pk])
        return format_html('<a href="{}">{}</a>', url, item.payment.public_id)

    @admin.display(description="status")
    def state(self, item: PayoutBatchItem) -> str:
        if item.payment is None:
            return selectors.REJECTED
        return item.payment.next_action or item.payment.status


@admin.register(PayoutBatch)
class PayoutBatchAdmin(TenantScopedAdmin[PayoutBatch]):
    list_display = ("public_id", "tenant", "mode", "item_count", "source", "totals", "created_at")
    list_filter = ("mode", "source", "tenant")
    search_fields = ("public_id", "tenant__name", "tenant__slug")
    list_select_related = ("tenant",)
    fields = ("public_id", "tenant", "mode", "currency", "item_count", "source", "created_at")
    readonly_fields = fields
    inlines = [PayoutBatchItemInline]
    actions = ["cancel_queued"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.UPLOAD_PERMISSION)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_cancel_payout_batch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(services.CANCEL_PERMISSION)

    @admin.display(description="totals by status")
    def totals(self, batch: PayoutBatch) -> str:
        counts = selectors.get_totals(batch=batch)
        return ", ".join(f"{state} {total['count']}" for state, total in counts.items())

    @admin.action(
        description="Cancel the queued payouts of the selected batches",
        permissions=["cancel_payout_batch"],
    )
    def cancel_queued(self, request: HttpRequest, queryset: QuerySet[PayoutBatch]) -> None:
        for batch in queryset:
            try:
                cancelled = services.cancel_payout_batch(batch=batch, actor=staff_actor(request))
            except GatewayError as refused:
                messages.warning(request, f"{batch}: {refused.detail}")
            else:
                messages.success(request, f"{batch}: {cancelled} queued payouts cancelled.")

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Finance's CSV upload: the same batch, under the same rules, as the API's."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None, request=request)
        if request.method == "POST" and form.is_valid():
            batch = self._create(request, form)
            if batch is not None:
                return HttpResponseRedirect(
                    reverse("admin:payouts_payoutbatch_change", args=[batch.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Upload a payout batch (CSV)",
            "form": form,
            "max_items": MAX_ITEMS,
            "columns": COLUMNS,
        }
        return TemplateResponse(request, "admin/payouts/payoutbatch/upload.html", context)

    def _create(self, request: HttpRequest, form: UploadForm) -> PayoutBatch | None:
        data = form.cleaned_data
        try:
            batch = services.create_payout_batch(
                tenant=data["tenant"],
                mode=Mode(data["mode"]),
                currency="ZMW",
                items=[services.BatchItem(**item) for item in data["file"]],
                actor=staff_actor(request),
                source=Source.ADMIN,
            )
        except ValidationFailed as refused:
            form.add_error("file", _lines(refused.errors or []) or refused.detail)
            return None
        except GatewayError as refused:
            messages.error(request, f"Refused, nothing was created: {refused.detail}")
            return None
        rejected = selectors.get_totals(batch=batch)[selectors.REJECTED]["count"]
        messages.success(
            request,
            f"{batch}: {batch.item_count - rejected} payouts created for {batch.tenant}"
            + (f"; {rejected} lines had an external_id already used." if rejected else "."),
        )
        return batch
