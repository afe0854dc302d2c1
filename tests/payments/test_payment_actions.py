"""The payment page's actions panel: re-check, refund, resolve by hand. Each declares its
permission, is refused without it (a message, nothing changed) and leaves an audit row."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import AuditLog
from payments import services
from payments.models import Flow, Payment, Status
from tenants.models import StaffMembership
from tests.payments.factories import PaymentFactory, fund
from tests.providers.mtn.fake import mtn_with_tokens
from tests.staff import signed_in
from webhooks.outbound.models import Event

pytestmark = pytest.mark.django_db


def _post(client: Client, payment: Payment, action: str, data: dict | None = None):
    response = client.post(f"/admin/payments/payment/{payment.pk}/{action}/", data or {})
    return response, [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def pending() -> Payment:
    return PaymentFactory.create(submitted_at=timezone.now())


@pytest.fixture
def collected() -> Payment:
    payment = PaymentFactory.create(
        status=Status.SUCCESSFUL, completed_at=timezone.now(), provider_transaction_id="91001"
    )
    fund(payment.tenant)
    return payment


def test_the_page_shows_the_panel_with_the_actions_that_apply(staff, pending, collected) -> None:
    pending_page = staff.get(f"/admin/payments/payment/{pending.pk}/change/").content.decode()
    final_page = staff.get(f"/admin/payments/payment/{collected.pk}/change/").content.decode()

    assert 'id="payment-actions"' in pending_page
    assert 'id="action-recheck"' in pending_page and 'id="action-resolve"' in pending_page
    assert 'id="action-refund"' not in pending_page
    assert 'id="action-refund"' in final_page and 'id="action-resolve"' not in final_page


def test_the_panel_says_which_permission_a_missing_action_needs(staff_in, pending) -> None:
    page = signed_in(staff_in("support")).get(f"/admin/payments/payment/{pending.pk}/change/")

    html = page.content.decode()
    assert "payments.resolve_payment" in html and "payments.recheck_payment" in html
    assert 'name="resolve"' not in html and 'name="recheck"' not in html


def test_a_recheck_queues_a_status_check_and_leaves_an_audit_row(staff_in, pending) -> None:
    ops = staff_in("ops")

    response, said = _post(signed_in(ops), pending, "recheck")

    assert response.status_code == 302
    assert response["Location"] == f"/admin/payments/payment/{pending.pk}/change/"
    assert "Queued a status check" in said[0]
    assert ProcrastinateJob.objects.filter(task_name="payments.refresh_payment").count() == 1
    row = AuditLog.objects.get(action="payment.recheck_requested")
    assert (row.actor_label, row.data["queued"]) == (ops.username, True)


def test_a_part_refund_from_the_page(staff_in, collected) -> None:
    ops = staff_in("ops")

    _, said = _post(signed_in(ops), collected, "refund", {"amount": "50.00"})

    refund = Payment.objects.get(refund_of=collected)
    assert (refund.flow, refund.amount, refund.status) == (Flow.REFUND, Decimal("50.00"), "PENDING")
    assert refund.public_id in said[0]
    assert AuditLog.objects.filter(
        action="payment.created", actor_label=ops.username, target_id=str(refund.pk)
    ).exists()


def test_a_whole_refund_when_no_amount_is_given(staff, collected) -> None:
    _post(staff, collected, "refund", {"amount": ""})

    assert Payment.objects.get(refund_of=collected).amount == collected.amount


def test_a_refund_beyond_the_payment_is_refused_with_the_reason(staff, collected) -> None:
    _, said = _post(staff, collected, "refund", {"amount": "150.01"})

    assert said == ["Refused, nothing changed: At most 150.00 ZMW can be refunded."]
    assert not Payment.objects.filter(refund_of=collected).exists()


def test_a_manual_resolution_settles_audits_and_fires_the_merchants_event(
    staff_in, pending
) -> None:
    ops = staff_in("ops")

    _, said = _post(
        signed_in(ops),
        pending,
        "resolve",
        {
            "status": "SUCCESSFUL",
            "reason": "MTN portal shows it paid",
            "provider_transaction_id": "7",
        },
    )

    pending.refresh_from_db()
    assert pending.status == Status.SUCCESSFUL and pending.provider_transaction_id == "7"
    assert "is now SUCCESSFUL" in said[0]
    row = AuditLog.objects.get(action="payment.resolved_by_hand")
    assert (row.actor_label, row.data["reason"], row.data["status"]) == (
        ops.username,
        "MTN portal shows it paid",
        "SUCCESSFUL",
    )
    assert AuditLog.objects.filter(action="payment.successful", actor_label=ops.username).exists()
    event = Event.objects.get(payment=pending)
    assert event.type == "payment.succeeded"
    assert ProcrastinateJob.objects.filter(task_name__contains="fan_out").exists()


def test_a_manual_failure_releases_nothing_it_did_not_take(staff, pending) -> None:
    _post(staff, pending, "resolve", {"status": "FAILED", "reason": "MTN: no such transaction"})

    pending.refresh_from_db()
    assert pending.status == Status.FAILED
    assert "MTN: no such transaction" in pending.failure_message
    assert Event.objects.get(payment=pending).type == "payment.failed"


def test_a_resolution_without_a_reason_is_refused(staff, pending) -> None:
    _, said = _post(staff, pending, "resolve", {"status": "SUCCESSFUL", "reason": ""})

    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert said[0].startswith("Refused, nothing changed:") and "reason" in said[0]
    assert not AuditLog.objects.filter(action="payment.resolved_by_hand").exists()


def test_a_final_payment_is_not_resolved_again(staff, collected) -> None:
    _, said = _post(staff, collected, "resolve", {"status": "FAILED", "reason": "oops"})

    collected.refresh_from_db()
    assert collected.status == Status.SUCCESSFUL
    assert said == [f"Refused, nothing changed: {collected.public_id} is already SUCCESSFUL."]


@pytest.mark.parametrize(
    ("action", "data", "permission"),
    [
        ("recheck", {}, "payments.recheck_payment"),
        ("refund", {"amount": "10.00"}, "payments.refund_payment"),
        ("resolve", {"status": "FAILED", "reason": "a guess"}, "payments.resolve_payment"),
    ],
)
def test_support_is_refused_every_action_and_nothing_changes(
    staff_in, pending, collected, action, data, permission
) -> None:
    support = signed_in(staff_in("support"))
    before = AuditLog.objects.count()
    target = collected if action == "refund" else pending

    response, said = _post(support, target, action, data)

    assert response.status_code == 302
    assert said == [f"Refused: this needs the {permission} permission. Nothing changed."]
    assert AuditLog.objects.count() == before
    assert Payment.objects.count() == 2
    assert not ProcrastinateJob.objects.exists()
    pending.refresh_from_db()
    assert pending.status == Status.PENDING


def test_the_services_refuse_a_staff_actor_without_the_permission(staff_in, pending) -> None:
    from tenants.admin import staff_actor

    class _Request:
        user = staff_in("support")

    actor = staff_actor(_Request())  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        services.resolve_payment(payment=pending, status=Status.FAILED, reason="x", actor=actor)
    with pytest.raises(PermissionDenied):
        services.create_refund(payment=pending, actor=actor)


def test_another_tenants_payment_is_not_found(staff_in, pending) -> None:
    ops = staff_in("ops")
    StaffMembership.objects.create(user=ops, tenant=PaymentFactory.create().tenant)

    response, _ = _post(signed_in(ops), pending, "resolve", {"status": "FAILED", "reason": "x"})

    assert response.status_code == 404
    pending.refresh_from_db()
    assert pending.status == Status.PENDING


def test_an_action_is_a_post(staff, pending) -> None:
    assert staff.get(f"/admin/payments/payment/{pending.pk}/resolve/").status_code == 405


# --- re-checking a recent final payment -----------------------------------------------------

BASE = settings.MTN["test"]["BASE_URL"]
RTP = f"{BASE}/collection/v1_0/requesttopay"


@pytest.fixture
def mtn():
    with mtn_with_tokens(BASE) as fake:
        yield fake


def _expired_yesterday() -> Payment:
    return PaymentFactory.create(
        status=Status.FAILED,
        failure_code="expired",
        submitted_at=timezone.now() - timedelta(days=1),
        completed_at=timezone.now() - timedelta(days=1),
    )


def test_a_recent_final_payment_is_compared_with_the_operator(staff_in) -> None:
    ops = staff_in("ops")
    payment = _expired_yesterday()

    _, said = _post(signed_in(ops), payment, "recheck")

    assert "whether it agrees with FAILED" in said[0]
    job = ProcrastinateJob.objects.get()
    assert (job.task_name, job.args) == (
        "payments.compare_with_operator",
        {"payment_id": payment.pk},
    )
    assert AuditLog.objects.get(action="payment.recheck_requested").data["queued"] is True


def test_an_old_final_payment_is_not_asked_about(staff) -> None:
    payment = _expired_yesterday()
    Payment.objects.filter(pk=payment.pk).update(
        completed_at=timezone.now() - services.RECHECK_FINAL_WITHIN - timedelta(minutes=1)
    )

    _, said = _post(staff, payment, "recheck")

    assert said[0].startswith("Nothing to ask the operator")
    assert not ProcrastinateJob.objects.exists()
    assert AuditLog.objects.get(action="payment.recheck_requested").data["queued"] is False


def test_the_operators_disagreement_is_flagged_and_the_status_kept(mtn) -> None:
    payment = _expired_yesterday()
    mtn.get(
        f"{RTP}/{payment.provider_reference}",
        json={"status": "SUCCESSFUL", "financialTransactionId": "600198217"},
    )

    services.compare_with_operator(payment_id=payment.pk)

    payment.refresh_from_db()
    assert payment.status == Status.FAILED  # a final status never changes
    call = payment.provider_calls.get()
    assert (call.operation, call.outcome) == ("fetch_status", "successful")
    row = AuditLog.objects.get(action="payment.operator_disagrees")
    assert (row.data["ours"], row.data["theirs"]) == ("FAILED", "successful")


def test_an_agreeing_operator_leaves_only_its_answer_in_the_timeline(mtn) -> None:
    payment = _expired_yesterday()
    mtn.get(
        f"{RTP}/{payment.provider_reference}",
        json={"status": "FAILED", "reason": "APPROVAL_REJECTED"},
    )

    services.compare_with_operator(payment_id=payment.pk)

    assert payment.provider_calls.count() == 1
    assert not AuditLog.objects.filter(action="payment.operator_disagrees").exists()
