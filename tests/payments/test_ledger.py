"""The ledger against PostgreSQL: postings sum to zero, entries are immutable, a merchant's
balance never goes below zero whatever runs at once, and check_ledger sees every breach."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from audit.services import SYSTEM
from payments import errors, services
from payments.ledger import checks
from payments.ledger import services as ledger
from payments.ledger.models import Account, AccountKind, Entry, FeeSchedule
from payments.models import Flow, Payment, Status
from tenants.models import Mode
from tests.payments.factories import PaymentFactory, fund
from tests.tenants.factories import TenantFactory, issue_key

D = Decimal


def _merchant(tenant) -> Account:
    return Account.objects.get(kind=AccountKind.MERCHANT, tenant=tenant, mode=Mode.TEST)


def _payout(tenant, amount: str = "100.00", flow: str = Flow.DISBURSEMENT) -> Payment:
    return services.create_payment(
        tenant=tenant,
        mode=Mode.TEST,
        flow=Flow(flow),
        amount=D(amount),
        currency="ZMW",
        msisdn="260961234567",
        external_id=f"out-{timezone.now().timestamp()}-{threading.get_ident()}",
        actor=SYSTEM,
    )


def _sums_to_zero() -> bool:
    """Across all accounts of a mode and currency, posted credits equal posted debits."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.mode, a.currency,"
            " sum(CASE WHEN e.credit_account_id = a.id THEN e.amount ELSE -e.amount END)"
            " FROM ledger_entry e"
            " JOIN ledger_account a ON a.id IN (e.debit_account_id, e.credit_account_id)"
            " WHERE e.phase IN ('posted', 'post') GROUP BY 1, 2"
        )
        totals = cursor.fetchall()
    return bool(totals) and all(total == 0 for _, _, total in totals)


def _settle(payment: Payment, status: Status, failure_code: str = "") -> None:
    with transaction.atomic():
        services.transition_payment(
            payment=Payment.objects.get(pk=payment.pk), status=status, failure_code=failure_code
        )


@pytest.mark.django_db
def test_a_collection_credits_amount_less_fee_and_every_posting_sums_to_zero() -> None:
    tenant = TenantFactory.create()
    FeeSchedule.objects.create(
        tenant=tenant, provider="mtn", flow=Flow.COLLECTION, percent=D("2.5"), fixed=D("1.00")
    )
    collection = PaymentFactory.create(tenant=tenant, amount=D("200.00"), fee=D("6.00"))

    _settle(collection, Status.SUCCESSFUL)

    merchant = _merchant(tenant)
    assert (merchant.available, merchant.reserved) == (D("194.00"), D("0"))
    assert _sums_to_zero()
    assert checks.find_breaches() == []


@pytest.mark.django_db
def test_fees_are_copied_at_creation_and_later_prices_change_nothing() -> None:
    tenant = TenantFactory.create()
    fund(tenant)
    schedule = FeeSchedule.objects.create(
        tenant=tenant, provider="mtn", flow=Flow.DISBURSEMENT, percent=D("1"), minimum=D("2.50")
    )
    small, large = _payout(tenant, "100.00"), _payout(tenant, "1000.00")
    schedule.percent, schedule.fixed = D("5"), D("3")
    schedule.save()

    assert (small.fee, large.fee) == (D("2.50"), D("10.00"))  # the minimum, then 1 %
    small.refresh_from_db()
    assert small.fee == D("2.50") and small.net == D("-102.50")
    assert _merchant(tenant).reserved == D("1112.50")  # 102.50 + 1010.00


@pytest.mark.django_db
def test_a_payout_reserves_then_posts_and_a_failed_one_returns_its_reservation() -> None:
    tenant = TenantFactory.create()
    fund(tenant, "500.00")
    FeeSchedule.objects.create(tenant=tenant, provider="mtn", flow=Flow.DISBURSEMENT, fixed=D("5"))
    sent, refused = _payout(tenant, "100.00"), _payout(tenant, "200.00")
    assert (_merchant(tenant).available, _merchant(tenant).reserved) == (D("190.00"), D("310.00"))

    _settle(sent, Status.SUCCESSFUL)
    _settle(refused, Status.FAILED, "payer_not_found")

    merchant = _merchant(tenant)
    assert (merchant.available, merchant.reserved) == (D("395.00"), D("0"))
    phases = sorted(Entry.objects.filter(payment=refused).values_list("phase", flat=True))
    assert phases == ["pending", "pending", "void", "void"]
    assert _sums_to_zero()
    assert checks.find_breaches() == []


@pytest.mark.django_db
def test_a_payout_beyond_the_balance_is_refused_and_leaves_nothing() -> None:
    tenant = TenantFactory.create()
    fund(tenant, "99.99")

    with pytest.raises(errors.InsufficientBalance, match=r"Available 99\.99 ZMW"):
        _payout(tenant, "100.00")

    assert not Payment.objects.filter(flow=Flow.DISBURSEMENT).exists()
    assert _merchant(tenant).available == D("99.99")


@pytest.mark.django_db
def test_a_partial_refund_moves_exactly_its_amount() -> None:
    tenant = TenantFactory.create()
    collection = PaymentFactory.create(tenant=tenant, amount=D("150.00"))
    _settle(collection, Status.SUCCESSFUL)

    refund = services.create_refund(
        payment=Payment.objects.get(pk=collection.pk), actor=SYSTEM, amount=D("40.00")
    )
    _settle(refund, Status.SUCCESSFUL)

    assert _merchant(tenant).available == D("110.00")
    assert checks.find_breaches() == []


@pytest.mark.django_db
def test_entries_cannot_be_changed_or_deleted() -> None:
    tenant = TenantFactory.create()
    fund(tenant)
    entry = Entry.objects.get()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount=D("1"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).delete()

    assert Entry.objects.get().amount == D("10000.00")


@pytest.mark.django_db
def test_check_ledger_reports_a_tampered_balance_and_exits_non_zero(capsys) -> None:
    tenant = TenantFactory.create()
    fund(tenant, "100.00")
    call_command("check_ledger")
    with connection.cursor() as cursor:  # someone edits a total by hand
        cursor.execute("UPDATE ledger_account SET credits_posted = 150 WHERE kind = 'merchant'")

    with pytest.raises(CommandError) as failed:
        call_command("check_ledger")

    assert failed.value.returncode == 1
    assert "merchant_totals" in capsys.readouterr().err


@pytest.mark.django_db
def test_backfill_posts_payments_made_before_the_ledger_once() -> None:
    tenant = TenantFactory.create()
    now = timezone.now()
    PaymentFactory.create(tenant=tenant, amount=D("300.00"), status="SUCCESSFUL", completed_at=now)
    PaymentFactory.create(
        tenant=tenant,
        flow=Flow.DISBURSEMENT,
        amount=D("500.00"),
        status="SUCCESSFUL",
        completed_at=now,
    )
    PaymentFactory.create(tenant=tenant, flow=Flow.DISBURSEMENT, amount=D("50.00"))  # pending
    assert {b.check for b in checks.find_breaches()} >= {"collection_postings"}

    assert ledger.backfill() == 3
    assert ledger.backfill() == 0

    merchant = _merchant(tenant)
    # 300 in, 500 out (200 of it covered by an opening-balance adjustment), 50 reserved.
    assert (merchant.available, merchant.reserved) == (D("0.00"), D("50.00"))
    assert checks.find_breaches() == []


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_payouts_never_take_the_balance_below_zero(live_server) -> None:
    issued = issue_key()
    tenant = issued.api_key.tenant
    fund(tenant, "1000.00")
    FeeSchedule.objects.create(tenant=tenant, provider="mtn", flow=Flow.DISBURSEMENT, fixed=D("2"))
    start = threading.Barrier(20)

    def pay_out(index: int) -> int:
        import requests

        start.wait()
        response = requests.post(
            f"{live_server.url}/api/v1/payments",
            json={
                "flow": "disbursement",
                "amount": "150.00",
                "msisdn": "0961234567",
                "external_id": f"race-{index}",
            },
            headers={
                "Authorization": f"Bearer {issued.secret}",
                "Idempotency-Key": f"race-{index}",
            },
            timeout=30,
        )
        assert response.status_code in (201, 402), response.text
        if response.status_code == 402:
            assert response.json()["code"] == "insufficient_balance"
        return response.status_code

    try:
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(pay_out, range(20)))
    finally:
        connections.close_all()

    assert answers.count(201) == 6  # 6 x 152.00 = 912.00 fits in 1000.00; a 7th does not
    assert answers.count(402) == 14
    merchant = _merchant(tenant)
    assert (merchant.available, merchant.reserved) == (D("88.00"), D("912.00"))
    assert Payment.objects.filter(flow=Flow.DISBURSEMENT).count() == 6
    assert checks.find_breaches() == []
