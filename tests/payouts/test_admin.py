"""Finance's CSV upload of a payout batch, and the batch pages, in the back-office."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.models import AuditLog
from payments.models import Payment
from payouts.models import PayoutBatch, Source
from tests.payments.factories import PaymentFactory, fund
from tests.staff import signed_in
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/payouts/payoutbatch/add/"
CSV = (
    "external_id,amount,msisdn,provider,description\n"
    "salary-001,150.00,0961234567,,December salary\n"
    "salary-002,200.50,+260 97 123 4567,airtel,\n"
    "salary-003,75,260951234567,,\n"
)


def _client(user) -> Client:
    return signed_in(user)  # finance needs its second factor


def _upload(client: Client, tenant, text: str, mode: str = "test"):
    return client.post(
        ADD,
        {
            "tenant": str(tenant.pk),
            "mode": mode,
            "file": SimpleUploadedFile("payouts.csv", text.encode(), content_type="text/csv"),
        },
    )


def test_finance_uploads_a_csv_and_each_line_becomes_a_payout(staff_in) -> None:
    tenant = TenantFactory.create()
    fund(tenant)
    finance = staff_in("finance")

    answer = _upload(_client(finance), tenant, CSV)

    batch = PayoutBatch.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == f"/admin/payouts/payoutbatch/{batch.pk}/change/"
    assert (batch.tenant, batch.mode, batch.item_count, batch.source) == (
        tenant,
        "test",
        3,
        Source.ADMIN,
    )
    payouts = Payment.objects.filter(tenant=tenant).order_by("external_id")
    assert [(p.external_id, str(p.amount), p.msisdn, p.provider) for p in payouts] == [
        ("salary-001", "150.00", "260961234567", "mtn"),
        ("salary-002", "200.50", "260971234567", "airtel"),
        ("salary-003", "75.00", "260951234567", "zamtel"),
    ]
    created = AuditLog.objects.get(action="payout_batch.created")
    assert created.actor_label == finance.username
    page = _client(finance).get(answer["Location"])
    assert page.status_code == 200
    assert b"salary-002" in page.content and payouts[1].public_id.encode() in page.content


def test_a_bad_line_is_named_and_nothing_is_created(staff_in) -> None:
    tenant = TenantFactory.create()
    fund(tenant)
    bad = CSV.replace("+260 97 123 4567", "12345").replace("75,", "-75,")

    answer = _upload(_client(staff_in("finance")), tenant, bad)

    assert answer.status_code == 200
    errors = answer.context["form"].errors["file"]
    assert any(e.startswith("line 3, msisdn:") for e in errors), errors
    assert any(e.startswith("line 4, amount:") for e in errors), errors
    assert not PayoutBatch.objects.exists() and not Payment.objects.exists()


def test_a_balance_that_does_not_cover_the_file_creates_nothing(staff_in) -> None:
    tenant = TenantFactory.create()
    fund(tenant, amount="100.00")

    answer = _upload(_client(staff_in("finance")), tenant, CSV)

    assert answer.status_code == 200
    assert "Refused, nothing was created: Available 100.00 ZMW" in answer.content.decode()
    assert not PayoutBatch.objects.exists()


def test_a_used_external_id_is_reported_not_paid_again(staff_in) -> None:
    tenant = TenantFactory.create()
    fund(tenant)
    PaymentFactory.create(tenant=tenant, external_id="salary-002")

    answer = _upload(_client(staff_in("finance")), tenant, CSV)

    assert answer.status_code == 302
    assert Payment.objects.filter(external_id="salary-002").count() == 1
    page = _client(staff_in("finance")).get(answer["Location"])
    assert b"already used by" in page.content


@pytest.mark.parametrize("role", ["read_only", "support", "ops"])
def test_only_finance_may_upload(staff_in, role) -> None:
    tenant = TenantFactory.create()
    fund(tenant)
    client = _client(staff_in(role))

    assert client.get(ADD).status_code == 403
    assert _upload(client, tenant, CSV).status_code == 403
    assert client.get("/admin/payouts/payoutbatch/").status_code == 200
    assert not PayoutBatch.objects.exists()


def test_finance_cancels_a_batchs_queued_payouts_from_the_list(staff_in) -> None:
    from audit.services import SYSTEM
    from payments import availability

    tenant = TenantFactory.create()
    fund(tenant)
    availability.set_override(
        provider="mtn",
        mode="test",
        operation="disbursement",
        state="CLOSED",
        reason="MTN payouts down",
        expires_at=None,
        actor=SYSTEM,
    )
    client = _client(staff_in("finance"))
    _upload(client, tenant, CSV)
    batch = PayoutBatch.objects.get()

    answer = client.post(
        "/admin/payouts/payoutbatch/",
        {"action": "cancel_queued", "_selected_action": [str(batch.pk)]},
        follow=True,
    )

    assert answer.status_code == 200
    assert "1 queued payouts cancelled" in answer.content.decode()
    mtn = Payment.objects.get(provider="mtn")
    assert (mtn.status, mtn.failure_code) == ("FAILED", "cancelled")
    assert Payment.objects.filter(status="PENDING").count() == 2


def test_finance_limited_to_one_tenant_cannot_upload_for_another(staff_in) -> None:
    from tenants.models import StaffMembership

    mine, theirs = TenantFactory.create(), TenantFactory.create()
    fund(theirs)
    finance = staff_in("finance")
    StaffMembership.objects.create(user=finance, tenant=mine)

    answer = _upload(_client(finance), theirs, CSV)

    assert answer.status_code == 200 and "tenant" in answer.context["form"].errors
    assert not PayoutBatch.objects.exists()
