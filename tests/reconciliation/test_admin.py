"""Finance's pages: a statement uploaded and its mismatches listed, items resolved, payments
marked reconciled from the list, the daily summary and its CSV; support refused the money
pages; staff limited to some tenants see only those tenants' runs and items."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import Payment, Status
from reconciliation.models import (
    ItemKind,
    PaymentReconciliation,
    ReconciliationItem,
    ReconciliationRun,
    Resolution,
)
from reports import selectors as reports
from tenants.models import Mode, StaffMembership
from tests.payments.factories import PaymentFactory
from tests.reconciliation.statements import MTN_HEADER, csv_text, mtn_line
from tests.staff import signed_in
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db

IMPORT = "/admin/reconciliation/reconciliationrun/import/"
SUMMARY = "/admin/reconciliation/reconciliationrun/daily-summary/"
ITEMS = "/admin/reconciliation/reconciliationitem/"


def _client(user) -> Client:
    return signed_in(user)  # finance needs its second factor


def _successful(tenant, transaction_id: str, amount: str = "150.00") -> Payment:
    return PaymentFactory.create(
        tenant=tenant,
        mode=Mode.LIVE,
        status=Status.SUCCESSFUL,
        completed_at=timezone.now(),
        provider_transaction_id=transaction_id,
        amount=Decimal(amount),
    )


def _links_to(html: str, item: ReconciliationItem) -> bool:
    url = reverse("admin:reconciliation_reconciliationitem_change", args=[item.pk])
    return re.search(re.escape(url) + '["?]', html) is not None


def _statement(*lines: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile("momo.csv", "".join(csv_text(MTN_HEADER, list(lines))).encode())


def _upload(client: Client, tenant=None, **lines):
    now = timezone.now()
    statement = _statement(
        mtn_line(transaction_id="T1", reference="", amount="150.00", status="SUCCESSFUL", at=now),
        mtn_line(transaction_id="T2", reference="", amount="99.00", status="SUCCESSFUL", at=now),
    )
    data = {"provider": "mtn", "mode": "live", "file": statement}
    if tenant is not None:
        data["tenant"] = str(tenant.pk)
    return client.post(IMPORT, data)


def test_finance_uploads_a_statement_and_sees_each_mismatch(staff_in) -> None:
    tenant = TenantFactory.create()
    _successful(tenant, "T1")
    missing = _successful(tenant, "T9")
    finance = _client(staff_in("finance"))

    answer = _upload(finance)

    run = ReconciliationRun.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse(
        "admin:reconciliation_reconciliationrun_change", args=[run.pk]
    )
    page = finance.get(answer["Location"]).content.decode()
    assert "On the statement, not here: 1" in page and "Matched: 1" in page
    listed = finance.get(
        ITEMS, {"run__id__exact": str(run.pk), "kind__in": "missing_here,missing_there"}
    )
    html = listed.content.decode()
    assert listed.status_code == 200
    shown = {item.kind for item in run.items.all() if _links_to(html, item)}
    assert shown == {ItemKind.MISSING_HERE, ItemKind.MISSING_THERE}
    assert "T2" in html and missing.public_id in html


def test_a_bad_file_is_shown_on_the_form(staff_in) -> None:
    finance = _client(staff_in("finance"))

    answer = finance.post(
        IMPORT,
        {"provider": "mtn", "mode": "live", "file": SimpleUploadedFile("x.csv", b"a,b\n1,2\n")},
    )

    assert answer.status_code == 200
    assert "Not a MTN MoMo statement: no column Id" in answer.content.decode()
    assert not ReconciliationRun.objects.exists()


def test_support_cannot_import_export_resolve_or_mark(staff_in) -> None:
    tenant = TenantFactory.create()
    payment = _successful(tenant, "T1")
    _upload(_client(staff_in("finance")))
    item = ReconciliationItem.objects.get(kind=ItemKind.MISSING_HERE)
    support = _client(staff_in("support"))
    today = reports.today().isoformat()

    assert support.get(IMPORT).status_code == 403
    assert _upload(support).status_code == 403
    assert support.get(SUMMARY, {"start": today, "end": today}).status_code == 200
    assert support.get(SUMMARY, {"start": today, "end": today, "export": "csv"}).status_code == 403
    resolve = reverse("admin:reconciliation_reconciliationitem_resolve", args=[item.pk])
    assert support.post(resolve, {"resolution": "noted", "note": "x"}).status_code == 403
    mark = reverse("admin:reconciliation_mark_reconciled")
    assert support.post(mark, {"payment": payment.pk, "note": "x"}).status_code == 403
    listed = support.get("/admin/payments/payment/").content.decode()
    assert "mark_reconciled" not in listed
    assert ReconciliationRun.objects.count() == 1
    assert not PaymentReconciliation.objects.exists()
    item.refresh_from_db()
    assert item.resolution == Resolution.OPEN


def test_finance_resolves_an_item_with_a_note(staff_in) -> None:
    _upload(_client(staff_in("finance")))
    item = ReconciliationItem.objects.get(line_number=2)
    finance = _client(staff_in("finance"))
    resolve = reverse("admin:reconciliation_reconciliationitem_resolve", args=[item.pk])

    refused = finance.post(resolve, {"resolution": "late_success", "note": "no"})
    done = finance.post(resolve, {"resolution": "noted", "note": "a fee line, not a payment"})

    assert "does not settle" in refused.content.decode()
    assert done.status_code == 302
    item.refresh_from_db()
    assert (item.resolution, item.note) == (Resolution.NOTED, "a fee line, not a payment")


def test_finance_marks_payments_reconciled_from_the_list(staff_in) -> None:
    tenant = TenantFactory.create()
    first, second = _successful(tenant, "T1"), _successful(tenant, "T2")
    finance = _client(staff_in("finance"))

    chosen = finance.post(
        "/admin/payments/payment/",
        {"action": "mark_reconciled", "_selected_action": [first.pk, second.pk]},
    )
    form = finance.get(chosen["Location"])
    marked = finance.post(
        reverse("admin:reconciliation_mark_reconciled"),
        {"payment": [first.pk, second.pk], "note": "on MoMo's statement of the day"},
    )

    assert chosen.status_code == 302 and first.public_id in form.content.decode()
    assert marked.status_code == 302
    assert set(PaymentReconciliation.objects.values_list("payment_id", flat=True)) == {
        first.pk,
        second.pk,
    }
    shown = finance.get("/admin/payments/payment/", {"reconciled": "yes"}).content.decode()
    assert first.public_id in shown and second.public_id in shown


def test_the_payment_page_snippet_shows_the_mark_or_the_link(staff_in, rf) -> None:
    tenant = TenantFactory.create()
    payment = _successful(tenant, "T1")
    finance = staff_in("finance")
    request = rf.get("/")
    request.user = finance
    context = {"payment": payment, "perms": _Perms(finance)}

    before = render_to_string("admin/reconciliation/payment_reconciled.html", context, request)
    PaymentReconciliation.objects.create(
        payment=payment, tenant=tenant, note="checked on 1 Dec", reconciled_by="finance"
    )
    payment = Payment.objects.get(pk=payment.pk)
    after = render_to_string(
        "admin/reconciliation/payment_reconciled.html", {**context, "payment": payment}, request
    )

    assert f"mark/?payment={payment.pk}" in before
    assert "checked on 1 Dec" in after and "mark/?payment" not in after


class _Perms:
    """The template's `perms` as Django's context processor builds it."""

    def __init__(self, user) -> None:
        from django.contrib.auth.context_processors import PermWrapper

        self.wrapper = PermWrapper(user)

    def __getitem__(self, app: str):
        return self.wrapper[app]


def test_the_daily_summary_and_its_csv(staff_in) -> None:
    tenant = TenantFactory.create(name="Lusaka Books")
    _successful(tenant, "T1", "150.00")
    _successful(tenant, "T2", "50.00")
    PaymentFactory.create(tenant=tenant, amount=Decimal("10.00"))  # pending, test mode
    yesterday = PaymentFactory.create(tenant=tenant)
    Payment.objects.filter(pk=yesterday.pk).update(created_at=timezone.now() - timedelta(days=2))
    finance = _client(staff_in("finance"))
    today = reports.today().isoformat()

    page = finance.get(SUMMARY, {"start": today, "end": today}).content.decode()
    exported = finance.get(SUMMARY, {"start": today, "end": today, "export": "csv"})

    assert "Lusaka Books" in page and "200.00" in page
    streamed = b"".join(exported.streaming_content)  # type: ignore[attr-defined]  # a StreamingHttpResponse
    rows = list(csv.reader(io.StringIO(streamed.decode())))
    assert rows[0] == [
        "day", "tenant", "tenant_id", "provider", "mode", "flow", "status", "count", "total"
    ]  # fmt: skip
    assert sorted(tuple(row[4:]) for row in rows[1:]) == [
        ("live", "collection", "SUCCESSFUL", "2", "200.00"),
        ("test", "collection", "PENDING", "1", "10.00"),
    ]


def test_a_limited_user_sees_only_its_tenants_runs_items_and_summary(staff_in) -> None:
    alpha = TenantFactory.create(name="Alpha Foods")
    bravo = TenantFactory.create(name="Bravo Bank")
    _successful(alpha, "T1")
    _successful(bravo, "T2", "99.00")
    finance = _client(staff_in("finance"))
    _upload(finance)  # the whole statement: the gateway's, not a tenant's
    _upload(finance, tenant=alpha)
    _upload(finance, tenant=bravo)
    user = staff_in("finance")
    StaffMembership.objects.create(user=user, tenant=alpha)
    limited = _client(user)

    runs = limited.get("/admin/reconciliation/reconciliationrun/").content.decode()
    items = limited.get(ITEMS).content.decode()
    today = reports.today().isoformat()
    summary = limited.get(SUMMARY, {"start": today, "end": today}).content.decode()

    alpha_run = ReconciliationRun.objects.get(tenant=alpha)
    assert [run.pk for run in ReconciliationRun.objects.all() if f"/{run.pk}/change/" in runs] == [
        alpha_run.pk
    ]
    visible = [item for item in ReconciliationItem.objects.all() if _links_to(items, item)]
    assert visible and {item.tenant_id for item in visible} == {alpha.pk}
    assert "Bravo Bank" not in items and "Bravo Bank" not in summary and "Alpha Foods" in summary
    bravo_item = ReconciliationItem.objects.filter(tenant=bravo).first()
    assert bravo_item is not None
    resolve = reverse("admin:reconciliation_reconciliationitem_resolve", args=[bravo_item.pk])
    assert limited.post(resolve, {"resolution": "noted", "note": "x"}).status_code == 404
    # A limited user imports only statements of its tenants.
    assert _upload(limited).status_code == 200
    assert _upload(limited, tenant=bravo).status_code == 200
    assert ReconciliationRun.objects.count() == 3
