"""Writes for payments: the only place a payment's state changes.

The state machine is PENDING -> SUCCESSFUL | FAILED, and nothing leaves a final state. One
function writes the status, `transition_payment`, with a conditional UPDATE out of PENDING, in
the same short transaction as its audit row and follow-up work; a database trigger refuses any
other change of a final status. Operator calls happen outside any transaction, under a
per-payment lease (`busy_until`, `lease_holder`).

Jobs are deferred by task name (`payments.jobs` imports this module, never the reverse).
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
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from audit import services as audit
from gateway import context
from gateway.db import ensure_outside_transaction
from payments import errors, hooks, metrics
from payments.ledger import services as ledger
from payments.ledger.models import Entry, EntryKind
from payments.models import FINAL_STATUSES, Flow, Payment, Status, Transaction
from providers import registry, routing
from providers.base import (
    Capabilities,
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
    RefundSupport,
    RetryableError,
)
from tenants.models import Mode, Tenant

logger = logging.getLogger(__name__)

SUPPORTED_CURRENCIES = frozenset({"ZMW"})

_OPERATIONS = {
    Flow.COLLECTION: Operation.REQUEST_PAYMENT,
    Flow.DISBURSEMENT: Operation.SEND_PAYOUT,
    Flow.REFUND: Operation.REFUND,
}


# --- creation -------------------------------------------------------------------------------


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
    """A PENDING payment and its submission job, committed together (the job is the outbox).

    Raises `DuplicateExternalId` when the tenant has a payment with this external_id, and the
    creation rules' errors. Payouts and refunds reserve their amount and fee, or are refused.
    """
    try:
        return _insert_payment(
            tenant=tenant,
            mode=mode,
            flow=flow,
            amount=amount,
            currency=currency,
            msisdn=msisdn,
            external_id=external_id,
            actor=actor,
            provider=provider,
            description=description,
            metadata=metadata,
            refund_of=refund_of,
        )
    except IntegrityError as exc:
        # The block's savepoint rolled back, so the surrounding transaction is usable: look up
        # the payment that holds the external_id (a concurrent insert waited for its commit).
        existing = (
            Payment.objects.for_tenant(tenant, mode)
            .filter(external_id=external_id)
            .only("public_id")
            .first()
        )
        if existing is None:
            raise
        raise errors.DuplicateExternalId(
            f"external_id {external_id!r} is already used by {existing.public_id}.",
            payment_id=existing.public_id,
        ) from exc


@transaction.atomic  # may nest in the idempotency middleware's transaction (a savepoint)
def _insert_payment(
    *,
    tenant: Tenant,
    mode: Mode,
    flow: Flow,
    amount: Decimal,
    currency: str,
    msisdn: str,
    external_id: str,
    actor: audit.Actor,
    provider: Provider | None,
    description: str,
    metadata: dict[str, Any] | None,
    refund_of: Payment | None,
) -> Payment:
    _check_creation_rules(amount=amount, currency=currency)
    routed = routing.route_msisdn(msisdn)
    if provider is not None and provider != routed:
        raise errors.ProviderMismatch(
            f"{msisdn} belongs to {Provider(routed).label}, not {Provider(provider).label}."
        )
    registry.require_adapter(routed)
    _check_capabilities(registry.capabilities(routed), amount=amount)
    now = timezone.now()
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
        fee=ledger.fee_for(tenant=tenant, provider=routed, flow=flow, amount=amount),
        expires_at=now + timedelta(seconds=settings.PAYMENT_EXPIRY_SECONDS),
        # A safety net: if the submission job is lost (a worker killed mid-job), the poller
        # submits again once this passes, with the same reference.
        next_poll_at=now + timedelta(seconds=settings.PAYMENT_LEASE_SECONDS),
    )
    # The tenant and the refunded payment are rows in hand: validating them would only
    # SELECT them again. A duplicate external_id is the unique constraint's to refuse.
    payment.full_clean(
        exclude=["tenant", "refund_of"], validate_unique=False, validate_constraints=False
    )
    payment.save(force_insert=True)
    if flow != Flow.COLLECTION:
        # Money leaving: reserved now, or refused now, before anything reaches the operator.
        ledger.reserve_for_payment(payment=payment, actor=actor)
    audit.record(
        actor=actor,
        action="payment.created",
        target=payment,
        tenant=tenant,
        data={"public_id": payment.public_id, "flow": flow, "amount": str(amount)},
    )
    _defer("payments.submit_payment", payment.pk, deduplicate=False)
    metrics.count_created(payment)
    return payment


def _check_creation_rules(*, amount: Decimal, currency: str) -> None:
    """What any new payment must satisfy, whoever creates it (API, refund, admin, command)."""
    if currency not in SUPPORTED_CURRENCIES:
        raise errors.invalid_field(
            "currency",
            f"{currency} is not accepted; use {', '.join(sorted(SUPPORTED_CURRENCIES))}.",
        )
    maximum = Decimal(settings.PAYMENT_MAX_AMOUNT)
    if amount > maximum:
        raise errors.invalid_field("amount", f"Ensure this value is at most {maximum}.")
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise errors.invalid_field("amount", "An amount is positive, with at most 2 decimals.")


def _check_capabilities(capabilities: Capabilities, *, amount: Decimal) -> None:
    """What the payment's operator takes (declared by its adapter)."""
    if amount > capabilities.max_amount:
        raise errors.invalid_field(
            "amount", f"Ensure this value is at most {capabilities.max_amount} for this operator."
        )
    step = Decimal(1).scaleb(-capabilities.decimals)
    if amount != amount.quantize(step):
        raise errors.invalid_field(
            "amount", f"This operator takes at most {capabilities.decimals} decimals."
        )


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
    refunds = registry.capabilities(original.provider).refunds
    if refunds is RefundSupport.NONE:
        raise errors.RefundNotAllowed(f"{Provider(original.provider).label} takes no refunds.")
    if refunds is RefundSupport.WHOLE and amount != original.amount:
        raise errors.RefundNotAllowed(
            f"{Provider(original.provider).label} refunds only a whole collection, "
            f"once: {original.amount} {original.currency}."
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


# --- test top-ups ---------------------------------------------------------------------------

# The largest single test top-up: plenty for any test, far from the accounts' numeric limits.
TEST_TOP_UP_MAX = Decimal("1000000.00")


def top_up_test_balance(
    *,
    tenant: Tenant,
    mode: Mode | str,
    amount: Decimal,
    currency: str,
    actor: audit.Actor,
    description: str = "",
) -> Entry:
    """Test money on a test balance, so that payouts and refunds can be tried; refused with
    TestModeOnly in live mode, where balances move only with payments and finance's
    adjustments. Runs in the caller's transaction when there is one (adjust_balance's atomic)."""
    if mode != Mode.TEST:
        raise errors.TestModeOnly("Top-ups exist in test mode only; use a test key (sk_test_…).")
    if currency not in SUPPORTED_CURRENCIES:
        raise errors.invalid_field(
            "currency",
            f"{currency} is not accepted; use {', '.join(sorted(SUPPORTED_CURRENCIES))}.",
        )
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")) or amount > TEST_TOP_UP_MAX:
        raise errors.invalid_field(
            "amount", f"A top-up is positive, at most {TEST_TOP_UP_MAX}, with at most 2 decimals."
        )
    return ledger.adjust_balance(
        tenant=tenant,
        mode=mode,
        amount=amount,
        currency=currency,
        reason=description.strip() or "Test top-up",
        actor=actor,
        kind=EntryKind.TOP_UP,
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
        refund_of_transaction_id=(
            payment.refund_of.provider_transaction_id or None if payment.refund_of else None
        ),
        submitted_at=payment.submitted_at,
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
            _after_pending_answer(payment, first=True)
        return payment
    except RetryableError as exc:
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _record(payment, exc.calls, exc.kind)
            payment.submit_attempts += 1
            if payment.submit_attempts >= settings.PAYMENT_SUBMIT_MAX_ATTEMPTS:
                # Every attempt was refused before processing (or the breaker was open): the
                # operator never took the request, so failing it cannot lose money.
                _save_progress(payment)
                transition_payment(
                    payment=payment,
                    status=Status.FAILED,
                    failure_code=exc.failure_code,
                    failure_message=exc.message,
                )
            else:
                delay = _backoff(payment.submit_attempts - 1)
                if exc.retry_after:
                    delay = max(delay, timedelta(seconds=exc.retry_after))
                payment.next_poll_at = timezone.now() + delay
                _save_progress(payment, release=True)
        return payment
    except PermanentError as exc:
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _record(payment, exc.calls, exc.kind)
            transition_payment(
                payment=payment,
                status=Status.FAILED,
                failure_code=exc.failure_code,
                failure_message=exc.message,
            )
        return payment
    with transaction.atomic(durable=True):
        payment = _locked(payment_id)
        _record(payment, result.calls, result.outcome)
        payment.submitted_at = timezone.now()
        payment.submit_attempts += 1
        apply_provider_result(payment=payment, result=result, first_poll=True)
    return payment


def refresh_payment(*, payment_id: int, scheduled: bool = True) -> Payment:
    """Ask the operator for the payment's status and apply it (the only source of truth).

    `scheduled` is False for a check someone asked for (a callback, ops): it answers sooner
    but leaves the polling schedule as it was, so callbacks cannot push polling back.
    """
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
            _after_pending_answer(payment, scheduled=scheduled)
        return payment
    with transaction.atomic(durable=True):
        payment = _locked(payment_id)
        _record(payment, result.calls, result.outcome)
        apply_provider_result(payment=payment, result=result, scheduled=scheduled)
    return payment


def apply_provider_result(
    *, payment: Payment, result: ProviderResult, first_poll: bool = False, scheduled: bool = True
) -> bool:
    """Turn the operator's answer into a transition, or into the next poll. The caller holds
    the row lock. Returns whether the status changed."""
    if result.outcome is Outcome.SUCCESSFUL:
        return transition_payment(
            payment=payment,
            status=Status.SUCCESSFUL,
            provider_transaction_id=result.provider_transaction_id or "",
        )
    if result.outcome is Outcome.FAILED:
        return transition_payment(
            payment=payment,
            status=Status.FAILED,
            failure_code=result.failure_code or FailureCode.PROVIDER_ERROR,
            failure_message=result.failure_message,
        )
    _after_pending_answer(payment, first=first_poll, scheduled=scheduled)
    return False


@transaction.atomic(savepoint=False)
def transition_payment(
    *,
    payment: Payment,
    status: Status,
    failure_code: str = "",
    failure_message: str = "",
    provider_transaction_id: str = "",
    actor: audit.Actor = audit.SYSTEM,
) -> bool:
    """The one writer of a payment's status: PENDING -> SUCCESSFUL or FAILED, nothing else.

    A conditional UPDATE (`WHERE status = 'PENDING'`): if the payment became final meanwhile
    (another process, a late answer, expiry), nothing is written and False is returned; the
    in-memory payment is then reloaded. The ledger postings, the audit row and what follows a
    final status commit in the same transaction as the change.
    """
    if status not in FINAL_STATUSES:
        raise ValueError(f"{status} is not a final status")
    now = timezone.now()
    failed = status == Status.FAILED
    changes: dict[str, Any] = {
        "status": status,
        "failure_code": (failure_code or FailureCode.PROVIDER_ERROR) if failed else "",
        "failure_message": failure_message[:255] if failed else "",
        "completed_at": now,
        "next_poll_at": None,
        "busy_until": None,
        "lease_holder": "",
        "updated_at": now,
    }
    if provider_transaction_id:
        changes["provider_transaction_id"] = provider_transaction_id[:64]
    moved = Payment.objects.filter(pk=payment.pk, status=Status.PENDING).update(**changes)
    if not moved:
        payment.refresh_from_db()
        logger.info("transition skipped: already final", extra=_log_context(payment))
        return False
    for field, value in changes.items():
        setattr(payment, field, value)
    ledger.post_final_status(payment=payment)
    audit.record(
        actor=actor,
        action=f"payment.{status.lower()}",
        target=payment,
        tenant=payment.tenant,
        data={"public_id": payment.public_id, "failure_code": payment.failure_code},
    )
    logger.info("payment final", extra={**_log_context(payment), "status": status})
    payment_finalized(payment)
    return True


def payment_finalized(payment: Payment) -> None:
    """What follows a final status, in the same transaction: the callbacks other apps
    registered with `payments.hooks.on_final` (merchant webhooks record their event there, so
    the event, its job and the status commit together or not at all)."""
    hooks.run_final(payment)


# --- polling, expiry ------------------------------------------------------------------------


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
        task = "payments.refresh_payment" if submitted_at else "payments.submit_payment"
        _defer(task, pk, deduplicate=True)
    return len(due)


def expire_overdue_payments(*, batch_size: int | None = None) -> int:
    """Fail as `expired` the PENDING payments well past their window, without an operator call.

    The poller normally expires a payment after one last status check at `expires_at`; this
    sweep is the backstop when that check cannot run (a stuck job, an operator that hangs), so
    expiry never waits on a job. A payment whose lease is held is left to its holder.
    """
    ensure_outside_transaction()
    now = timezone.now()
    overdue_before = now - timedelta(seconds=settings.PAYMENT_LEASE_SECONDS)
    expired = 0
    with transaction.atomic(durable=True):
        overdue = list(
            Payment.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, expires_at__lt=overdue_before)
            .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=now))
            .order_by("expires_at")[: batch_size or settings.PAYMENT_POLL_BATCH_SIZE]
        )
        for payment in overdue:
            expired += transition_payment(
                payment=payment,
                status=Status.FAILED,
                failure_code=FailureCode.EXPIRED,
                failure_message="The operator gave no final status within the payment's window.",
            )
    return expired


def request_refresh(*, payment: Payment) -> bool:
    """Ask for a status check soon (a callback arrived, or ops asked): at most one queued.

    False, and nothing queued, for a final payment: its answer is known and never changes.
    """
    if payment.is_final:
        return False
    _defer("payments.refresh_payment", payment.pk, deduplicate=True, scheduled=False)
    return True


# --- internals ------------------------------------------------------------------------------


def _defer(task_name: str, payment_id: int, *, deduplicate: bool, **task_kwargs: Any) -> None:
    """Queue a job on one payment. `lock` keeps two of its jobs from running at once; with
    `deduplicate`, a job already waiting for this payment absorbs the new one."""
    lock = f"payment:{payment_id}"
    deferrer = app.configure_task(
        task_name, allow_unknown=False, lock=lock, queueing_lock=lock if deduplicate else None
    )
    if not deduplicate:
        # Without a queueing lock nothing can refuse the job: no savepoint needed.
        deferrer.defer(payment_id=payment_id, **task_kwargs)
        return
    # In a savepoint: the refused INSERT of a duplicate would otherwise abort the caller's
    # whole transaction (the poller's batch, a status change).
    with contextlib.suppress(AlreadyEnqueued), transaction.atomic():
        deferrer.defer(payment_id=payment_id, **task_kwargs)


def _claim(payment_id: int) -> Payment | None:
    """Take the payment's lease if it is PENDING and free; None otherwise.

    A retried job may take over a lease still held by its own earlier attempt: that attempt is
    dead (Procrastinate retries a job only after its attempt ended or its worker stopped
    heart-beating), so waiting for the lease to lapse would only delay the payment.
    """
    now = timezone.now()
    holder = context.request_id.get()
    free = Q(busy_until__isnull=True) | Q(busy_until__lt=now)
    if holder.startswith("job_"):
        free |= Q(lease_holder__startswith=holder.rsplit("_", 1)[0] + "_")
    claimed = (
        Payment.objects.filter(pk=payment_id, status=Status.PENDING)
        .filter(free)
        .update(
            busy_until=now + timedelta(seconds=settings.PAYMENT_LEASE_SECONDS),
            lease_holder=holder[:64],
        )
    )
    return Payment.objects.select_related("refund_of").get(pk=payment_id) if claimed else None


def _release(payment_id: int) -> None:
    Payment.objects.filter(pk=payment_id).update(busy_until=None, lease_holder="")


def _locked(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment_id)


def _backoff(attempt: int) -> timedelta:
    schedule = settings.PAYMENT_POLL_SCHEDULE_SECONDS
    return timedelta(seconds=schedule[min(attempt, len(schedule) - 1)])


def _after_pending_answer(payment: Payment, *, first: bool = False, scheduled: bool = True) -> None:
    """The operator has no final answer yet: expire the payment if its window has passed,
    else plan the next check (a requested check leaves the schedule as it was)."""
    if payment.is_final:
        _save_progress(payment, release=True)
        return
    now = timezone.now()
    if now >= payment.expires_at:
        _save_progress(payment)
        transition_payment(
            payment=payment,
            status=Status.FAILED,
            failure_code=FailureCode.EXPIRED,
            failure_message="The operator gave no final status within the payment's window.",
        )
        return
    if scheduled:
        if not first:
            payment.poll_count += 1
        payment.next_poll_at = min(now + _backoff(payment.poll_count), payment.expires_at)
    _save_progress(payment, release=True)


# The columns a submission or a check may update; never `status` (transition_payment's alone).
_PROGRESS_FIELDS = ["submitted_at", "submit_attempts", "next_poll_at", "poll_count", "updated_at"]


def _save_progress(payment: Payment, *, release: bool = False) -> None:
    fields = list(_PROGRESS_FIELDS)
    if release:
        payment.busy_until, payment.lease_holder = None, ""
        fields += ["busy_until", "lease_holder"]
    payment.save(update_fields=fields)


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
