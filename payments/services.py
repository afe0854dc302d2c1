"""Writes for payments: the only place a payment's state changes.

The state machine is PENDING -> SUCCESSFUL | FAILED, and nothing leaves a final state. Every
transition is one short transaction that also writes the audit row and defers follow-up jobs.
Operator calls happen outside any transaction, under a per-payment lease (`busy_until`).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from procrastinate.exceptions import AlreadyEnqueued

from audit import services as audit
from gateway.db import ensure_outside_transaction
from payments import errors, jobs
from payments.models import Flow, Payment, Status, Transaction
from providers import registry, routing
from providers.base import (
    FailureCode,
    Operation,
    Outcome,
    OutcomeUnknownError,
    PaymentInstruction,
    PermanentError,
    Provider,
    ProviderCall,
    ProviderError,
    ProviderResult,
    RetryableError,
)
from tenants.models import Mode, Tenant

logger = logging.getLogger(__name__)

_OPERATIONS = {
    Flow.COLLECTION: Operation.REQUEST_PAYMENT,
    Flow.DISBURSEMENT: Operation.SEND_PAYOUT,
    Flow.REFUND: Operation.REFUND,
}


# --- creation -------------------------------------------------------------------------------


@transaction.atomic  # may nest in the idempotency middleware's transaction
def create_payment(
    *,
    tenant: Tenant,
    mode: Mode,
    flow: Flow,
    amount: Decimal,
    currency: str,
    msisdn: str,
    external_id: str,
    actor: audit.Actor,
    provider: Provider | None = None,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    refund_of: Payment | None = None,
) -> Payment:
    """A PENDING payment and its submission job, committed together (the job is the outbox)."""
    routed = routing.route_msisdn(msisdn)
    if provider is not None and provider != routed:
        raise errors.ProviderMismatch(
            f"{msisdn} belongs to {Provider(routed).label}, not {Provider(provider).label}."
        )
    registry.require_adapter(routed)
    payment = Payment(
        tenant=tenant,
        mode=mode,
        flow=flow,
        provider=routed,
        amount=amount,
        currency=currency,
        msisdn=msisdn,
        external_id=external_id,
        description=description,
        metadata=metadata or {},
        refund_of=refund_of,
        expires_at=timezone.now() + timedelta(seconds=settings.PAYMENT_EXPIRY_SECONDS),
        # A safety net: if the submission job is lost (a worker killed mid-job), the poller
        # submits again once this passes, with the same reference.
        next_poll_at=timezone.now() + timedelta(seconds=settings.PAYMENT_LEASE_SECONDS),
    )
    payment.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError as exc:
        existing = Payment.objects.for_tenant(tenant, mode).filter(external_id=external_id).first()
        if existing is None:
            raise
        raise errors.DuplicateExternalId(
            f"external_id {external_id!r} is already used by {existing.public_id}.",
            payment_id=existing.public_id,
        ) from exc
    audit.record(
        actor=actor,
        action="payment.created",
        target=payment,
        tenant=tenant,
        data={"public_id": payment.public_id, "flow": flow, "amount": str(amount)},
    )
    jobs.submit_payment.configure(lock=f"payment:{payment.pk}").defer(payment_id=payment.pk)
    return payment


@transaction.atomic
def create_refund(
    *,
    payment: Payment,
    actor: audit.Actor,
    amount: Decimal | None = None,
    external_id: str | None = None,
    description: str = "",
) -> Payment:
    """A refund of (part of) a successful collection, checked under the original's row lock."""
    original = Payment.objects.select_for_update().get(pk=payment.pk)
    if original.flow != Flow.COLLECTION or original.status != Status.SUCCESSFUL:
        raise errors.RefundNotAllowed(
            f"{original.public_id} is a {original.status} {original.flow}."
        )
    refunded = original.refunds.exclude(status=Status.FAILED).aggregate(total=Sum("amount"))
    remaining = original.amount - (refunded["total"] or Decimal("0"))
    amount = remaining if amount is None else amount
    if amount <= 0 or amount > remaining:
        raise errors.RefundExceedsPayment(
            f"At most {remaining} {original.currency} can be refunded."
        )
    return create_payment(
        tenant=original.tenant,
        mode=Mode(original.mode),
        flow=Flow.REFUND,
        amount=amount,
        currency=original.currency,
        msisdn=original.msisdn,
        external_id=external_id or f"refund-{original.public_id}-{original.refunds.count() + 1}",
        actor=actor,
        description=description or f"Refund of {original.external_id}",
        refund_of=original,
    )


# --- talking to the operator ---------------------------------------------------------------


def instruction_for(payment: Payment) -> PaymentInstruction:
    return PaymentInstruction(
        reference=payment.provider_reference,
        operation=_OPERATIONS[Flow(payment.flow)],
        amount=payment.amount,
        currency=payment.currency,
        msisdn=payment.msisdn,
        external_id=payment.public_id,
        note=payment.description,
        callback_url=(
            f"{settings.PUBLIC_BASE_URL}/api/v1/webhooks/{payment.provider}/{payment.callback_token}"
        ),
        refund_of_reference=payment.refund_of.provider_reference if payment.refund_of else None,
    )


def submit_payment(*, payment_id: int) -> Payment:
    """Send the payment to its operator once. Safe to call again: it sends nothing twice."""
    ensure_outside_transaction()
    payment = _claim(payment_id)
    if payment is None:
        return Payment.objects.get(pk=payment_id)  # final, or another process is on it
    if payment.submitted_at is not None:
        _release(payment_id)
        return payment  # already sent: from here the poller decides
    adapter = registry.get_adapter(payment.provider, payment.mode)
    instruction = instruction_for(payment)
    send = {
        Operation.REQUEST_PAYMENT: adapter.request_payment,
        Operation.SEND_PAYOUT: adapter.send_payout,
        Operation.REFUND: adapter.refund,
    }[instruction.operation]
    try:
        result = send(instruction)
    except OutcomeUnknownError as exc:
        # Not "set status to pending" but the reason: after a read timeout the operator may
        # have debited the wallet already, so the poller asks; sending again could charge twice.
        logger.warning("provider outcome unknown", extra=_log_context(payment))
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _record(payment, exc.calls, exc.kind)
            payment.submitted_at = timezone.now()
            _schedule_next_poll(payment, first=True)
        return payment
    except RetryableError as exc:
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _record(payment, exc.calls, exc.kind)
            payment.submit_attempts += 1
            if payment.submit_attempts >= settings.PAYMENT_SUBMIT_MAX_ATTEMPTS:
                # Every attempt was refused before processing (or the breaker was open): the
                # operator never took the request, so failing it cannot lose money.
                _finalize(payment, Status.FAILED, exc.failure_code, exc.message)
            else:
                payment.next_poll_at = timezone.now() + _backoff(payment.submit_attempts - 1)
                if exc.retry_after:
                    payment.next_poll_at = max(
                        payment.next_poll_at, timezone.now() + timedelta(seconds=exc.retry_after)
                    )
                payment.busy_until = None
                payment.save()
        return payment
    except PermanentError as exc:
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _record(payment, exc.calls, exc.kind)
            _finalize(payment, Status.FAILED, exc.failure_code, exc.message)
        return payment
    with transaction.atomic(durable=True):
        payment = _locked(payment_id)
        _record(payment, result.calls, result.outcome)
        payment.submitted_at = timezone.now()
        payment.submit_attempts += 1
        apply_provider_result(payment=payment, result=result, first_poll=True)
    return payment


def refresh_payment(*, payment_id: int) -> Payment:
    """Ask the operator for the payment's status and apply it (the only source of truth)."""
    ensure_outside_transaction()
    payment = _claim(payment_id)
    if payment is None:
        return Payment.objects.get(pk=payment_id)
    if payment.submitted_at is None:
        _release(payment_id)
        return payment  # not sent yet: submission comes first
    adapter = registry.get_adapter(payment.provider, payment.mode)
    try:
        result = adapter.fetch_status(instruction_for(payment))
    except ProviderError as exc:
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _record(payment, exc.calls, exc.kind)
            _schedule_next_poll(payment)
        return payment
    with transaction.atomic(durable=True):
        payment = _locked(payment_id)
        _record(payment, result.calls, result.outcome)
        apply_provider_result(payment=payment, result=result)
    return payment


def apply_provider_result(
    *, payment: Payment, result: ProviderResult, first_poll: bool = False
) -> bool:
    """The state machine's one transition function. The caller holds the row lock.

    Returns whether the status changed. A final payment never changes again.
    """
    if payment.is_final:
        _release_locked(payment)
        return False
    if result.outcome is Outcome.SUCCESSFUL:
        payment.provider_transaction_id = result.provider_transaction_id or ""
        _finalize(payment, Status.SUCCESSFUL)
        return True
    if result.outcome is Outcome.FAILED:
        _finalize(
            payment,
            Status.FAILED,
            result.failure_code or FailureCode.PROVIDER_ERROR,
            result.failure_message,
        )
        return True
    _schedule_next_poll(payment, first=first_poll)
    return False


# --- polling --------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def poll_due_payments(*, batch_size: int | None = None) -> int:
    """Hand due PENDING payments to refresh (or resubmit) jobs, a batch at a time.

    SKIP LOCKED lets several pollers share the work without waiting on each other; moving
    next_poll_at forward keeps the next run from picking the same rows before their job runs.
    """
    now = timezone.now()
    due = list(
        Payment.objects.select_for_update(skip_locked=True)
        .filter(status=Status.PENDING, next_poll_at__lte=now)
        .order_by("next_poll_at")
        .values_list("pk", "submitted_at")[: batch_size or settings.PAYMENT_POLL_BATCH_SIZE]
    )
    if not due:
        return 0
    Payment.objects.filter(pk__in=[pk for pk, _ in due]).update(
        next_poll_at=now + timedelta(seconds=settings.PAYMENT_LEASE_SECONDS)
    )
    for pk, submitted_at in due:
        task = jobs.refresh_payment if submitted_at else jobs.submit_payment
        with contextlib.suppress(AlreadyEnqueued):  # a job for this payment already waits
            task.configure(lock=f"payment:{pk}", queueing_lock=f"payment:{pk}").defer(payment_id=pk)
    return len(due)


def request_refresh(*, payment: Payment) -> None:
    """Ask for a status check soon (a callback arrived, or ops asked): at most one queued."""
    with contextlib.suppress(AlreadyEnqueued):
        jobs.refresh_payment.configure(
            lock=f"payment:{payment.pk}", queueing_lock=f"payment:{payment.pk}"
        ).defer(payment_id=payment.pk)


# --- internals ------------------------------------------------------------------------------


def _claim(payment_id: int) -> Payment | None:
    """Take the payment's lease if it is PENDING and free; None otherwise."""
    now = timezone.now()
    claimed = (
        Payment.objects.filter(pk=payment_id, status=Status.PENDING)
        .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=now))
        .update(busy_until=now + timedelta(seconds=settings.PAYMENT_LEASE_SECONDS))
    )
    return Payment.objects.select_related("refund_of").get(pk=payment_id) if claimed else None


def _release(payment_id: int) -> None:
    Payment.objects.filter(pk=payment_id).update(busy_until=None)


def _locked(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment_id)


def _release_locked(payment: Payment) -> None:
    if payment.busy_until is not None:
        payment.busy_until = None
        payment.save(update_fields=["busy_until", "updated_at"])


def _backoff(attempt: int) -> timedelta:
    schedule = settings.PAYMENT_POLL_SCHEDULE_SECONDS
    return timedelta(seconds=schedule[min(attempt, len(schedule) - 1)])


def _schedule_next_poll(payment: Payment, *, first: bool = False) -> None:
    now = timezone.now()
    if now >= payment.expires_at:
        _finalize(
            payment,
            Status.FAILED,
            FailureCode.EXPIRED,
            "The operator gave no final status within the payment's window.",
        )
        return
    if not first:
        payment.poll_count += 1
    payment.next_poll_at = min(now + _backoff(payment.poll_count), payment.expires_at)
    payment.busy_until = None
    payment.save()


def _finalize(
    payment: Payment, status: Status, failure_code: str = "", failure_message: str = ""
) -> None:
    payment.status = status
    payment.failure_code = failure_code if status == Status.FAILED else ""
    payment.failure_message = failure_message[:255] if status == Status.FAILED else ""
    payment.completed_at = timezone.now()
    payment.next_poll_at = None
    payment.busy_until = None
    payment.save()
    audit.record(
        actor=audit.SYSTEM,
        action=f"payment.{status.lower()}",
        target=payment,
        tenant=payment.tenant,
        data={"public_id": payment.public_id, "failure_code": payment.failure_code},
    )
    logger.info("payment final", extra={**_log_context(payment), "status": status})
    payment_finalized(payment)


def payment_finalized(payment: Payment) -> None:
    """Hook for what follows a final status, in the same transaction.

    Merchant webhooks (a later issue) defer their deliveries here, so the event and the status
    commit together.
    """


def _record(payment: Payment, calls: list[ProviderCall], outcome: str) -> None:
    Transaction.objects.bulk_create(
        Transaction(
            payment=payment,
            operation=call.operation,
            method=call.method,
            url=call.url,
            request_headers=call.request_headers,
            request_body=call.request_body,
            status_code=call.status_code,
            response_body=call.response_body,
            outcome=outcome,
            error=call.error,
            duration_ms=call.duration_ms,
        )
        for call in calls
    )


def _log_context(payment: Payment) -> dict[str, Any]:
    return {"payment_id": payment.public_id, "tenant_id": str(payment.tenant_id)}
