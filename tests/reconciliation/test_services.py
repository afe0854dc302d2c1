"""A statement with planted mismatches: every one is reported, and nothing else; each item is
resolved with a note through payments' own services and the ledger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import ActorKind, AuditLog
from audit.services import SYSTEM, Actor
from gateway.errors import ValidationFailed
from payments.ledger import checks
from payments.ledger.models import Account, AccountKind, Entry
from payments.models import Payment, Status
from reconciliation import services
from reconciliation.models import ItemKind, ReconciliationRun, Resolution
from tenants.models import Mode
from tests.payments.factories import PaymentFactory
from tests.reconciliation.statements import MTN_HEADER, csv_text, mtn_line
from tests.tenants.factories import TenantFactory
from webhooks.outbound.models import Event

pytestmark = pytest.mark.django_db


def _payment(tenant, status=Status.SUCCESSFUL, **fields) -> Payment:
    final = status != Status.PENDING
    return PaymentFactory.create(
        tenant=tenant,
        mode=Mode.LIVE,
        status=status,
        completed_at=timezone.now() if final else None,
        failure_code=fields.pop("failure_code", "expired" if status == Status.FAILED else ""),
        **fields,
    )


@pytest.fixture
def planted():
    """Tenant A's MTN live payments and a statement with one of each mismatch."""
    tenant = TenantFactory.create()
    now = timezone.now()
    matched = _payment(tenant, provider_transaction_id="1001", amount=Decimal("150.00"))
    by_reference = _payment(tenant, amount=Decimal("75.00"))  # our id only, operator id unknown
    declined = _payment(tenant, status=Status.FAILED, failure_code="payer_declined")
    amount = _payment(tenant, provider_transaction_id="1002", amount=Decimal("200.00"))
    pending = _payment(tenant, status=Status.PENDING, amount=Decimal("100.00"))
    expired = _payment(tenant, status=Status.FAILED, amount=Decimal("80.00"), fee=Decimal("2.00"))
    absent = _payment(tenant, provider_transaction_id="1005", amount=Decimal("60.00"))
    # Never expected on this statement: another operator, test mode, another tenant.
    _payment(tenant, provider="airtel", msisdn="260971234567", provider_transaction_id="A1")
    PaymentFactory.create(tenant=tenant, status=Status.SUCCESSFUL, completed_at=now)
    other = _payment(TenantFactory.create(), provider_transaction_id="2001")
    lines = [
        mtn_line(transaction_id="1001", reference="", amount="150.00", status="SUCCESSFUL", at=now),
        mtn_line(
            transaction_id="7001",
            reference=by_reference.public_id,
            amount="75.00",
            status="SUCCESSFUL",
            at=now,
        ),
        mtn_line(
            transaction_id="", reference=declined.public_id, amount="150", status="FAILED", at=now
        ),
        mtn_line(transaction_id="1002", reference="", amount="250.00", status="SUCCESSFUL", at=now),
        mtn_line(
            transaction_id="1003",
            reference=pending.public_id,
            amount="100.00",
            status="SUCCESSFUL",
            at=now,
        ),
        mtn_line(
            transaction_id="1004",
            reference=expired.public_id,
            amount="-80.00",
            status="SUCCESSFUL",
            at=now,
        ),
        mtn_line(
            transaction_id="9999",
            reference="pay_000000000000000000000000",
            amount="10.00",
            status="SUCCESSFUL",
            at=now,
        ),
    ]
    return {
        "tenant": tenant,
        "rows": csv_text(MTN_HEADER, lines),
        "matched": matched,
        "by_reference": by_reference,
        "declined": declined,
        "amount": amount,
        "pending": pending,
        "expired": expired,
        "absent": absent,
        "other": other,
    }


def _message(error: ValidationFailed) -> str:
    assert error.errors
    return error.errors[0]["message"]


def _run(planted, *, tenant=True, actor=SYSTEM) -> ReconciliationRun:
    return services.reconcile_statement(
        provider="mtn",
        mode=Mode.LIVE,
        rows=planted["rows"],
        filename="momo.csv",
        tenant=planted["tenant"] if tenant else None,
        actor=actor,
    )


def _items(run: ReconciliationRun) -> set[tuple[str, str | None, int | None]]:
    return {
        (item.kind, item.payment.public_id if item.payment else None, item.line_number)
        for item in run.items.select_related("payment")
    }


def test_a_statement_reports_every_planted_mismatch_and_nothing_else(planted) -> None:
    run = _run(planted)

    assert _items(run) == {
        (ItemKind.MATCHED, planted["matched"].public_id, 2),
        (ItemKind.MATCHED, planted["by_reference"].public_id, 3),
        (ItemKind.MATCHED, planted["declined"].public_id, 4),
        (ItemKind.AMOUNT_DIFFERS, planted["amount"].public_id, 5),
        (ItemKind.STATUS_DIFFERS, planted["pending"].public_id, 6),
        (ItemKind.SETTLED_AFTER_EXPIRY, planted["expired"].public_id, 7),
        (ItemKind.MISSING_HERE, None, 8),
        (ItemKind.MISSING_THERE, planted["absent"].public_id, None),
    }
    assert run.counts == {
        "matched": 3,
        "amount_differs": 1,
        "status_differs": 1,
        "settled_after_expiry": 1,
        "missing_here": 1,
        "missing_there": 1,
    }
    assert run.mismatches == 5 and run.lines == 7
    assert run.period_start == run.period_end
    # Nothing about a payment changed: a statement is a hint, like a callback.
    assert Payment.objects.get(pk=planted["pending"].pk).status == Status.PENDING
    assert AuditLog.objects.filter(action="reconciliation.imported").count() == 1


def test_a_whole_statement_expects_every_tenants_successful_payments(planted) -> None:
    run = _run(planted, tenant=False)

    missing = {
        item.payment.public_id
        for item in run.items.filter(kind=ItemKind.MISSING_THERE)
        if item.payment is not None
    }
    assert missing == {planted["absent"].public_id, planted["other"].public_id}


def test_matching_costs_a_bounded_number_of_queries(planted, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(12):
        _run(planted)


def test_an_unreadable_statement_records_nothing() -> None:
    with pytest.raises(ValidationFailed) as refused:
        services.reconcile_statement(
            provider="mtn",
            mode=Mode.LIVE,
            rows=["Transaction,Amount\n", "1,2\n"],
            filename="x.csv",
            actor=SYSTEM,
        )

    assert "no column Id, External Transaction Id" in _message(refused.value)
    assert not ReconciliationRun.objects.exists()


def test_a_line_with_an_unknown_status_is_named() -> None:
    line = mtn_line(transaction_id="1", reference="", amount="1", status="WEIRD", at=timezone.now())
    with pytest.raises(ValidationFailed) as refused:
        services.reconcile_statement(
            provider="mtn",
            mode=Mode.LIVE,
            rows=csv_text(MTN_HEADER, [line]),
            filename="x.csv",
            actor=SYSTEM,
        )

    assert _message(refused.value).startswith("Line 2: unknown status 'WEIRD'")


def test_airtel_and_zamtel_statements_match_by_our_reference() -> None:
    tenant = TenantFactory.create()
    airtel = _payment(tenant, provider="airtel", msisdn="260971234567", amount=Decimal("40.00"))
    zamtel = _payment(tenant, provider="zamtel", msisdn="260951234567", amount=Decimal("30.00"))
    when = timezone.now().strftime("%Y-%m-%dT%H:%M:%S+00:00")
    airtel_rows = [
        "Airtel Money ID,Partner Transaction ID,Reference,Transaction Date,MSISDN,Amount,"
        "Currency,Status\n",
        f"MP1,{airtel.provider_reference.hex},{airtel.external_id},{when},971234567,40.00,ZMW,TS\n",
    ]
    zamtel_rows = [
        "Transaction ID,Deposit ID,Client Reference ID,Date,MSISDN,Amount,Currency,Status\n",
        f"ZT1,{zamtel.provider_reference},{zamtel.public_id},{when},951234567,30.00,ZMW,COMPLETED\n",
    ]

    runs = [
        services.reconcile_statement(
            provider=provider,
            mode=Mode.LIVE,
            rows=rows,
            filename="s.csv",
            tenant=tenant,
            actor=SYSTEM,
        )
        for provider, rows in (("airtel", airtel_rows), ("zamtel", zamtel_rows))
    ]

    assert [run.counts for run in runs] == [{"matched": 1}, {"matched": 1}]
    assert [run.items.get().payment for run in runs] == [airtel, zamtel]


def test_the_command_imports_a_statement(planted, tmp_path, capsys) -> None:
    statement = tmp_path / "momo.csv"
    statement.write_text("".join(planted["rows"]))

    call_command(
        "reconcile", str(statement), "--provider", "mtn", "--tenant", planted["tenant"].slug
    )

    out = capsys.readouterr().out
    assert "7 lines" in out and "5 to look at" in out and "settled_after_expiry: 1" in out
    assert ReconciliationRun.objects.get().imported_by == "manage.py reconcile"


# --- resolutions ----------------------------------------------------------------------------


def _item(run: ReconciliationRun, kind: ItemKind):
    return run.items.get(kind=kind)


def test_a_late_success_credits_the_merchant_once_and_notifies_it(planted) -> None:
    run = _run(planted)
    item = _item(run, ItemKind.SETTLED_AFTER_EXPIRY)

    services.resolve_item(
        item=item, resolution=Resolution.LATE_SUCCESS, note="MoMo confirms 1004", actor=SYSTEM
    )

    expired = Payment.objects.get(pk=planted["expired"].pk)
    assert expired.status == Status.FAILED  # a final status never changes
    merchant = Account.objects.get(kind=AccountKind.MERCHANT, tenant=planted["tenant"])
    assert merchant.available == Decimal("78.00")  # 80.00 less its 2.00 fee
    entries = Entry.objects.filter(payment=expired)
    assert sorted(entries.values_list("code", "amount")) == [
        ("late_collection", Decimal("80.00")),
        ("late_fee", Decimal("2.00")),
    ]
    # The factories' payments have no entries (made without the one writer): only this one's.
    assert [b for b in checks.find_breaches() if expired.public_id in b.detail] == []
    assert "late_collection_postings" in [name for name, _, _ in checks.CHECKS]
    event = Event.objects.get(payment=expired)
    assert event.type == "payment.settled_late"
    assert '"settled_late":{"amount":"80.00","provider_transaction_id":"1004"' in event.body
    assert ProcrastinateJob.objects.filter(task_name="webhooks.fan_out_event").exists()
    assert AuditLog.objects.filter(action="reconciliation.item_resolved").count() == 1
    with pytest.raises(ValidationFailed):  # once
        services.resolve_item(
            item=item, resolution=Resolution.LATE_SUCCESS, note="again", actor=SYSTEM
        )
    assert Entry.objects.filter(payment=expired).count() == 2


def test_a_late_success_fits_only_a_collection_settled_after_expiry(planted) -> None:
    run = _run(planted)

    with pytest.raises(ValidationFailed):
        services.resolve_item(
            item=_item(run, ItemKind.AMOUNT_DIFFERS),
            resolution=Resolution.LATE_SUCCESS,
            note="no",
            actor=SYSTEM,
        )

    assert not Entry.objects.exists()


def test_a_status_difference_is_settled_by_a_recheck_with_the_operator(planted) -> None:
    run = _run(planted)
    item = _item(run, ItemKind.STATUS_DIFFERS)

    resolved = services.resolve_item(
        item=item, resolution=Resolution.RECHECKED, note="asked MoMo", actor=SYSTEM
    )

    assert resolved.resolution == Resolution.RECHECKED and resolved.resolved_at is not None
    job = ProcrastinateJob.objects.get(task_name="payments.refresh_payment")
    assert job.args["payment_id"] == planted["pending"].pk
    with pytest.raises(ValidationFailed):  # a final payment: nothing to ask
        services.resolve_item(
            item=_item(run, ItemKind.AMOUNT_DIFFERS),
            resolution=Resolution.RECHECKED,
            note="asked",
            actor=SYSTEM,
        )


def test_a_resolution_needs_a_note(planted) -> None:
    item = _item(_run(planted), ItemKind.MISSING_HERE)

    with pytest.raises(ValidationFailed):
        services.resolve_item(item=item, resolution=Resolution.NOTED, note="  ", actor=SYSTEM)

    services.resolve_item(item=item, resolution=Resolution.NOTED, note="fee line", actor=SYSTEM)
    item.refresh_from_db()
    assert (item.resolution, item.note) == (Resolution.NOTED, "fee line")


def _staff(user) -> Actor:
    return Actor(kind=ActorKind.USER, id=str(user.pk), label=user.username, user=user)


def test_support_cannot_import_resolve_or_mark(planted, staff_in) -> None:
    support = _staff(staff_in("support"))
    run = _run(planted)

    with pytest.raises(PermissionDenied):
        _run(planted, actor=support)
    with pytest.raises(PermissionDenied):
        services.resolve_item(
            item=_item(run, ItemKind.MISSING_HERE),
            resolution=Resolution.NOTED,
            note="x",
            actor=support,
        )
    with pytest.raises(PermissionDenied):
        services.mark_payment_reconciled(payment=planted["matched"], note="x", actor=support)


def test_finance_marks_a_payment_reconciled_once_with_an_audit_row(planted, staff_in) -> None:
    finance = _staff(staff_in("finance"))

    mark = services.mark_payment_reconciled(
        payment=planted["matched"], note="on the 1 Dec statement", actor=finance
    )

    assert mark.reconciled_by == finance.label and mark.tenant == planted["tenant"]
    row = AuditLog.objects.get(action="payment.reconciled")
    assert row.data["public_id"] == planted["matched"].public_id
    assert row.actor_label == finance.label
    with pytest.raises(ValidationFailed):
        services.mark_payment_reconciled(payment=planted["matched"], note="again", actor=finance)


def test_missing_there_looks_only_at_the_statements_days(planted) -> None:
    old = _payment(planted["tenant"], provider_transaction_id="OLD")
    Payment.objects.filter(pk=old.pk).update(completed_at=timezone.now() - timedelta(days=3))

    run = _run(planted)

    assert not run.items.filter(payment=old).exists()
