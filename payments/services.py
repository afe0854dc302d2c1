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
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Q, Sum
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from audit import services as audit
from audit.models import AuditLog
from gateway import context
from gateway.db import ensure_outside_transaction
from gateway.errors import GatewayError
from payments import availability, errors, hooks, metrics, routes
from payments.ledger import services as ledger
from payments.ledger.models import Entry, EntryKind
from payments.models import FINAL_STATUSES, Flow, Payment, Status, Transaction
from providers import registry
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
    RefundSupport,
    RetryableError,
    UnknownReference,
)
from providers.models import OperatorConfig
from tenants.models import Mode, Tenant

logger = logging.getLogger(__name__)

SUPPORTED_CURRENCIES = frozenset({"ZMW"})
# What a staff user needs (payments.models declares them).
RESOLVE_REVIEW_PERMISSION = "payments.resolve_review"
RECHECK_PERMISSION = "payments.recheck_payment"
RESOLVE_PERMISSION = "payments.resolve_payment"
REFUND_PERMISSION = "payments.refund_payment"

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
    The tenant's operator configuration decides the operator and its limits (payments.routes);
    a payout or refund to a CLOSED operator is accepted but queued, not sent.
    """
    route = routes.route_payment(
        tenant=tenant,
        mode=mode,
        flow=flow,
        msisdn=msisdn,
        amount=amount,
        provider=provider,
        refund_of=refund_of,
    )
    # A customer waits on a collection's prompt: only money leaving can wait for its operator.
    queued = flow != Flow.COLLECTION and availability.is_closed(
        provider=route.provider, mode=mode, operation=flow
    )
    new = functools.partial(
        _new_payment,
        tenant=tenant,
        mode=mode,
        flow=flow,
        amount=amount,
        currency=currency,
        msisdn=msisdn,
        external_id=external_id,
        provider=route.provider,
        description=description,
        metadata=metadata,
        refund_of=refund_of,
        routing=route.routing,
        queued=queued,
    )
    cap = route.limits.daily_cap
    if cap is None:
        return _insert_payment(new(cap_day=None), actor=actor)
    # The cap's count and the payment commit together, or neither does (a duplicate
    # external_id or a refused reservation rolls the count back too).
    with transaction.atomic():
        cap_day = routes.consume_daily_cap(
            tenant=tenant, mode=mode, provider=route.provider, flow=flow, amount=amount, cap=cap
        )
        return _insert_payment(new(cap_day=cap_day), actor=actor)


def _insert_payment(payment: Payment, *, actor: audit.Actor) -> Payment:
    leaving = payment.flow != Flow.COLLECTION
    # Nothing refuses a collection after its INSERT (a duplicate inserts nothing), so it
    # needs no savepoint. Money leaving can still be refused by its reservation: then only
    # its own writes roll back, and a request's transaction goes on to store the refusal.
    with transaction.atomic(savepoint=leaving):
        [inserted] = _insert_created([payment], actor=actor)
        if inserted and leaving:
            # Money leaving: reserved now, or refused now, before anything reaches the operator.
            ledger.reserve_for_payments(payments=[payment], actor=actor)
    if not inserted:
        raise _duplicate(
            tenant=payment.tenant, mode=Mode(payment.mode), external_id=payment.external_id
        )
    metrics.count_created(payment)
    return payment


def _new_payment(
    *,
    tenant: Tenant,
    mode: Mode,
    flow: Flow,
    amount: Decimal,
    currency: str,
    msisdn: str,
    external_id: str,
    provider: Provider,
    description: str,
    metadata: dict[str, Any] | None,
    refund_of: Payment | None,
    routing: dict[str, str | None],
    queued: bool,
    cap_day: date | None,
) -> Payment:
    """The unsaved payment, once it passes every creation rule (raises their errors)."""
    _check_creation_rules(amount=amount, currency=currency)
    routed = provider  # chosen and checked by payments.routes
    routes.check_capabilities(registry.capabilities(routed), amount=amount)
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
        expires_at=now + timedelta(seconds=settings.PAYMENT_EXPIRY_SECONDS),
        # A safety net: if the submission job is lost (a worker killed mid-job), the poller
        # submits again once this passes, with the same reference.
        next_poll_at=now + timedelta(seconds=settings.PAYMENT_LEASE_SECONDS),
        routing=routing,
        cap_day=cap_day,
    )
    if queued:
        # Its window starts when it leaves the queue; until then the poller asks, now and
        # then, whether the operator has recovered.
        payment.queued_at = now
        payment.expires_at = now + timedelta(seconds=settings.PAYMENT_QUEUE_MAX_SECONDS)
        payment.next_poll_at = now + timedelta(seconds=settings.PAYMENT_QUEUE_RECHECK_SECONDS)
    # The tenant and the refunded payment are rows in hand: validating them would only
    # SELECT them again. A duplicate external_id is the unique constraint's to refuse.
    payment.full_clean(
        exclude=["tenant", "refund_of"], validate_unique=False, validate_constraints=False
    )
    return payment


def _duplicate(*, tenant: Tenant, mode: Mode, external_id: str) -> errors.DuplicateExternalId:
    existing = (
        Payment.objects.for_tenant(tenant, mode)
        .filter(external_id=external_id)
        .only("public_id")
        .first()
    )
    return errors.DuplicateExternalId(
        f"external_id {external_id!r} is already used by {existing.public_id}."
        if existing
        else f"external_id {external_id!r} is already used.",
        payment_id=existing.public_id if existing else None,
    )


@dataclass(frozen=True)
class NewPayout:
    """One payout of many (create_payouts), with create_payment's own arguments."""

    amount: Decimal
    msisdn: str
    external_id: str
    provider: Provider | None = None
    description: str = ""
    metadata: dict[str, Any] | None = None


class PayoutsRefused(Exception):
    """Some payouts break a creation rule; nothing was written. `refusals` holds (index,
    error) for each one, in order."""

    def __init__(self, refusals: list[tuple[int, GatewayError]]) -> None:
        super().__init__(f"{len(refusals)} payouts refused")
        self.refusals = refusals


@transaction.atomic  # may nest in the idempotency middleware's transaction
def create_payouts(
    *,
    tenant: Tenant,
    mode: Mode,
    currency: str,
    payouts: Sequence[NewPayout],
    actor: audit.Actor,
) -> list[Payment | str]:
    """Many disbursements at once, under create_payment's rules: each is a normal payout
    (its audit row and submission job in its one INSERT), and their amounts and fees are
    reserved together, by one conditional UPDATE of the balance.

    All or nothing: raises PayoutsRefused (every payout that breaks a rule), InsufficientBalance
    (for the total), DailyCapExceeded (for an operator's total) and writes nothing. Returns, in
    order, each new payment, or the public id of the payment already using its external_id
    (nothing is written for that payout). Rules that do not depend on the payout (the
    tenant's operator configuration, availability) are read once.
    """
    _check_currency(currency)  # here too: a batch whose every payout is a repeat makes none
    configs = routes.operator_configs(tenant_id=tenant.pk, mode=mode)
    taken = dict(
        Payment.objects.for_tenant(tenant, mode)
        .filter(external_id__in=[payout.external_id for payout in payouts])
        .values_list("external_id", "public_id")
    )
    closed: dict[Provider, bool] = {}
    caps: dict[Provider, Decimal | None] = {}
    refusals: list[tuple[int, GatewayError]] = []
    created: dict[int, Payment] = {}
    for index, payout in enumerate(payouts):
        if payout.external_id in taken:
            continue
        try:
            route = routes.route_payment(
                tenant=tenant,
                mode=mode,
                flow=Flow.DISBURSEMENT,
                msisdn=payout.msisdn,
                amount=payout.amount,
                provider=payout.provider,
                configs=configs,
            )
            if route.provider not in closed:
                closed[route.provider] = availability.is_closed(
                    provider=route.provider, mode=mode, operation=Flow.DISBURSEMENT
                )
            created[index] = _new_payment(
                tenant=tenant,
                mode=mode,
                flow=Flow.DISBURSEMENT,
                amount=payout.amount,
                currency=currency,
                msisdn=payout.msisdn,
                external_id=payout.external_id,
                provider=route.provider,
                description=payout.description,
                metadata=payout.metadata,
                refund_of=None,
                routing=route.routing,
                queued=closed[route.provider],
                cap_day=None,  # below, once the operator's total is counted
            )
        except GatewayError as refused:
            refusals.append((index, refused))
            continue
        caps[route.provider] = route.limits.daily_cap
    if refusals:
        raise PayoutsRefused(refusals)
    made = list(created.values())
    for provider, cap in caps.items():
        if cap is None:
            continue
        mine = [payment for payment in made if payment.provider == provider]
        day = routes.consume_daily_cap(
            tenant=tenant,
            mode=mode,
            provider=provider,
            flow=Flow.DISBURSEMENT,
            amount=sum((payment.amount for payment in mine), Decimal(0)),
            cap=cap,
        )
        for payment in mine:
            payment.cap_day = day
    for payment, inserted in zip(made, _insert_created(made, actor=actor), strict=True):
        if not inserted:
            # Taken since the look-up above, by a concurrent request: refuse the whole call
            # (a retry reports it as taken).
            raise _duplicate(tenant=tenant, mode=mode, external_id=payment.external_id)
    ledger.reserve_for_payments(payments=made, actor=actor)
    for payment in made:
        metrics.count_created(payment)
    return [created.get(index) or taken[payout.external_id] for index, payout in enumerate(payouts)]


# New payments, their audit rows and their submission jobs: one statement, one round trip, for
# one payment or a thousand. The rows arrive as one array per column (`unnest`), so the
# statement's text is the same whatever their number. The fee schedule's look-up is folded
# into the INSERT. ON CONFLICT on the external_id inserts nothing for a taken one (and then
# neither its audit row nor its job), waiting first for a concurrent insert of the same
# external_id to commit or roll back. The jobs go in through Procrastinate's own SQL function,
# with the rows Procrastinate's `defer()` makes (queue, task, priority from the task; lock
# `payment:<id>`, as `_defer` sets; args {{"payment_id": <id>}}): the same rows, the same NOTIFY.
_CREATE_SQL = """
WITH new AS (
    SELECT * FROM unnest({arrays}) AS new ({names})
), payment AS (
    INSERT INTO {payment_table} ({payment_columns}) SELECT {payment_values} FROM new
    ON CONFLICT ON CONSTRAINT payment_external_id_uniq DO NOTHING
    RETURNING id, fee, public_id
), audit_row AS (
    INSERT INTO {audit_table} ({audit_columns})
    SELECT {audit_values} FROM payment JOIN new USING (public_id)
), job AS (
    SELECT procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW(
            %(job_queue)s, %(job_task)s, %(job_priority)s, 'payment:' || payment.id, NULL,
            jsonb_build_object('payment_id', payment.id), NULL
        )::procrastinate_job_to_defer_v1 FROM payment
    ))
)
SELECT payment.id, payment.fee, payment.public_id
FROM payment CROSS JOIN (SELECT count(*) FROM job) AS deferred
"""
# An audit row's values that differ from one new payment to the next (the others are the
# request's: actor, request id, address).
_AUDIT_PER_PAYMENT = ("tenant_id", "data", "created_at", "target_ref")


def _insert_created(payments: Sequence[Payment], *, actor: audit.Actor) -> list[bool]:
    """Write each new payment (its fee from the tenant's schedule), its audit row and its
    submission job; False for one whose external_id is taken (nothing written for it)."""
    statement = _create_statement()
    columns: dict[str, list[Any]] = {field.attname: [] for field in statement.fields}
    columns["audit_data"] = []
    for payment in payments:
        for field in statement.fields:
            value = field.get_db_prep_save(field.pre_save(payment, True), connection)
            columns[field.attname].append(value)
        columns["audit_data"].append(
            statement.audit_data.get_db_prep_save(
                {
                    "public_id": payment.public_id,
                    "flow": payment.flow,
                    "amount": str(payment.amount),
                },
                connection,
            )
        )
    shared = audit.row(
        actor=actor,
        action="payment.created",
        target_type=Payment._meta.label_lower,
        target_id=None,  # the payment's id, which the statement makes
        tenant_id=None,  # each payment's
    )
    params: dict[str, Any] = {f"c_{name}": values for name, values in columns.items()}
    for name, field in statement.audit_shared.items():
        params[f"a_{name}"] = field.get_db_prep_save(shared[name], connection)
    params["job_queue"], params["job_task"], params["job_priority"] = _job_fields(
        "payments.submit_payment"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        made = {public_id: (pk, fee) for pk, fee, public_id in cursor.fetchall()}
    for payment in payments:
        if payment.public_id in made:
            payment.pk, payment.fee = made[payment.public_id]
            payment._state.adding, payment._state.db = False, connection.alias
    return [payment.public_id in made for payment in payments]


@dataclass(frozen=True)
class _CreateStatement:
    sql: str
    fields: tuple[Field[Any, Any], ...]  # the payment's columns given per row (not id, fee)
    audit_data: Field[Any, Any]
    audit_shared: dict[str, Field[Any, Any]]  # the audit columns every row shares, by name


@functools.cache
def _create_statement() -> _CreateStatement:
    """_CREATE_SQL for the models as they are: built once per process (its text depends on
    nothing but the schema, and building it costs more than a small INSERT)."""
    quote = connection.ops.quote_name
    fields = [field for field in Payment._meta.concrete_fields if not field.primary_key]
    given = [field for field in fields if field.name != "fee"]
    audit_fields = {field.attname: field for field in AuditLog._meta.concrete_fields}
    types = {field.attname: field.db_type(connection) for field in given}
    types["audit_data"] = audit_fields["data"].db_type(connection)
    shared_names = [
        name
        for name in audit.row(
            actor=audit.SYSTEM, action="", target_type="", target_id=None, tenant_id=None
        )
        if name not in _AUDIT_PER_PAYMENT and name != "target_id"
    ]
    audit_names = [*_AUDIT_PER_PAYMENT, *shared_names]
    audit_sources = {
        "tenant_id": "new.tenant_id",
        "data": "new.audit_data",
        "created_at": "new.created_at",
        "target_ref": "new.public_id",
    }
    sql = _CREATE_SQL.format(
        arrays=", ".join(f"%(c_{name})s::{types[name]}[]" for name in types),
        names=", ".join(types),
        payment_table=quote(Payment._meta.db_table),
        payment_columns=", ".join(quote(str(field.column)) for field in fields),
        payment_values=", ".join(
            ledger.fee_sql("new.{}".format) if field.name == "fee" else f"new.{field.attname}"
            for field in fields
        ),
        audit_table=quote(AuditLog._meta.db_table),
        audit_columns=", ".join(
            quote(str(audit_fields[name].column)) for name in ["target_id", *audit_names]
        ),
        audit_values=", ".join(
            [
                "payment.id::text",
                *(
                    audit_sources.get(name)
                    or f"%(a_{name})s::{audit_fields[name].db_type(connection)}"
                    for name in audit_names
                ),
            ]
        ),
    )
    return _CreateStatement(
        sql=sql,
        fields=tuple(given),
        audit_data=audit_fields["data"],
        audit_shared={name: audit_fields[name] for name in shared_names},
    )


@functools.cache
def _job_fields(task_name: str) -> tuple[str, str, int]:
    """The queue, name and priority Procrastinate gives a job of this task (fixed by the task's
    declaration); raises TaskNotFound for a task that does not exist."""
    job = app.configure_task(task_name, allow_unknown=False).job
    return job.queue, job.task_name, job.priority


def _check_creation_rules(*, amount: Decimal, currency: str) -> None:
    """What any new payment must satisfy, whoever creates it (API, refund, admin, command)."""
    _check_currency(currency)
    maximum = Decimal(settings.PAYMENT_MAX_AMOUNT)
    if amount > maximum:
        raise errors.invalid_field("amount", f"Ensure this value is at most {maximum}.")
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise errors.invalid_field("amount", "An amount is positive, with at most 2 decimals.")


def _check_currency(currency: str) -> None:
    if currency not in SUPPORTED_CURRENCIES:
        raise errors.invalid_field(
            "currency",
            f"{currency} is not accepted; use {', '.join(sorted(SUPPORTED_CURRENCIES))}.",
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
    """A refund of (part of) a successful collection, checked under the original's row lock.
    A staff actor needs `payments.refund_payment` (a key refunds its own tenant's)."""
    audit.require_permission(actor, REFUND_PERMISSION)
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
    if payment.queued_at is not None and not _leave_queue(payment):
        return Payment.objects.get(pk=payment_id)  # still queued, or cancelled meanwhile
    if payment.routing.get("reason") == routes.Reason.LOOKUP_PENDING:
        payment = _route_by_lookup(payment)
        if payment.is_final:
            return payment
    if not _can_enquire(payment):
        if payment.send_started_at is not None:
            return _flag_unknown_attempt(payment_id)
        _log_send_started(payment)
    return _send(payment)


def _send(payment: Payment, *, resend: bool = False) -> Payment:
    """Send the payment's request with its one reference and record the answer. The caller
    holds the payment's lease and no transaction.

    A `resend` repeats a request whose first answer was lost and that the operator says it
    does not know: each attempt counts towards PAYMENT_SUBMIT_MAX_ATTEMPTS, and a refusal
    before processing only schedules the next status check, never a failure (the first
    request may still land)."""
    payment_id = payment.pk
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
            payment.submitted_at = timezone.now()  # it may have arrived: enquiries count from now
            payment.submit_attempts += resend
            _after_pending_answer(payment, first=not resend)
        return payment
    except RetryableError as exc:
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _record(payment, exc.calls, exc.kind)
            payment.submit_attempts += 1
            if resend:
                _after_pending_answer(payment)
                return payment
            payment.send_started_at = None  # it never arrived: sending again is safe
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
        payment.submitted_at = timezone.now()  # a resend too: the operator's lag starts over
        payment.submit_attempts += 1
        apply_provider_result(payment=payment, result=result, first_poll=not resend)
    return payment


def _leave_queue(payment: Payment) -> bool:
    """Whether a queued payment may go now: its operator is no longer CLOSED, and this
    conditional UPDATE took it out of the queue. A cancel races this very UPDATE (both need
    the row, PENDING and queued), so exactly one of the two wins. The caller holds the lease."""
    now = timezone.now()
    if availability.is_closed(provider=payment.provider, mode=payment.mode, operation=payment.flow):
        recheck = now + timedelta(seconds=settings.PAYMENT_QUEUE_RECHECK_SECONDS)
        Payment.objects.filter(pk=payment.pk, status=Status.PENDING).update(
            next_poll_at=min(recheck, payment.expires_at), busy_until=None, lease_holder=""
        )
        return False
    released = Payment.objects.filter(
        pk=payment.pk, status=Status.PENDING, queued_at__isnull=False
    ).update(
        queued_at=None,
        expires_at=now + timedelta(seconds=settings.PAYMENT_EXPIRY_SECONDS),
        next_poll_at=now + timedelta(seconds=settings.PAYMENT_LEASE_SECONDS),
        updated_at=now,
    )
    if not released:
        return False  # cancelled first: final, and transition_payment freed the lease
    payment.refresh_from_db(fields=["queued_at", "expires_at", "next_poll_at", "updated_at"])
    logger.info("payment left the queue", extra=_log_context(payment))
    return True


def _route_by_lookup(payment: Payment) -> Payment:
    """Fallback, before anything is sent: when the predicted operator says the number is not
    registered, the tenant's other enabled operators' account lookups choose the route.

    Runs in the submit job, under the payment's lease and outside any transaction (the lookups
    are operator calls), before the first submission: nothing has been sent yet, so moving the
    payment cannot leave a request behind at the first operator. Collections and payouts
    get here (payments.routes); a moved payout's reservation moves with it.
    """
    predicted = Provider(payment.provider)
    configs = routes.operator_configs(tenant_id=payment.tenant_id, mode=payment.mode)
    exchanges: list[tuple[Provider, list[ProviderCall], str]] = []
    lookups: dict[str, str] = {}

    def registered(provider: Provider) -> bool | None:
        try:
            holder = registry.get_adapter(provider, payment.mode).account_holder(payment.msisdn)
        except ProviderError as exc:
            exchanges.append((provider, exc.calls, exc.kind))
            lookups[provider] = "unavailable"
            return None
        lookups[provider] = "registered" if holder.active else "not_registered"
        exchanges.append((provider, holder.calls, lookups[provider]))
        return holder.active

    chosen: Provider | None = predicted
    known = registered(predicted)
    if known is None:
        reason = routes.Reason.LOOKUP_FAILED  # no answer is no verdict: send as predicted
    elif known:
        reason = routes.Reason.REGISTERED
    else:
        reason, chosen = routes.Reason.NOT_REGISTERED, None
        for candidate in routes.fallback_candidates(
            configs=configs, predicted=predicted, flow=payment.flow, amount=payment.amount
        ):
            if registered(candidate):
                reason, chosen = routes.Reason.FALLBACK, candidate
                break
    with transaction.atomic(durable=True):
        payment = _locked(payment.pk)
        for provider, calls, outcome in exchanges:
            _record(payment, calls, outcome, provider=provider)
        payment.routing = {
            **payment.routing,
            "chosen": chosen.value if chosen else None,
            "reason": reason,
            "lookups": lookups,
        }
        if payment.is_final or payment.submitted_at is not None:
            return payment  # not under our lease after all: never move what may have been sent
        if chosen is None:
            payment.save(update_fields=["routing", "updated_at"])
            transition_payment(
                payment=payment,
                status=Status.FAILED,
                failure_code=FailureCode.PAYER_NOT_FOUND,
                failure_message="No enabled operator has a wallet with this number.",
            )
            return payment
        if chosen != predicted:
            _move_to_operator(payment, chosen=chosen, configs=configs)
        if not payment.is_final:
            payment.save(update_fields=["routing", "provider", "fee", "cap_day", "updated_at"])
    return payment


def _move_to_operator(
    payment: Payment, *, chosen: Provider, configs: dict[str, OperatorConfig]
) -> None:
    """The fee, a payout's reservation and the daily-cap count follow the payment to its new
    operator. The caller holds the row lock; a cap the new operator cannot fit fails the
    payment `limit_exceeded`, a payout whose higher fee the balance cannot cover
    `insufficient_funds` (the paying side, the merchant, lacks the money)."""
    previous = payment.provider
    fee = ledger.fee_for(
        tenant=payment.tenant, provider=chosen, flow=payment.flow, amount=payment.amount
    )
    if payment.flow == Flow.DISBURSEMENT:
        try:
            with transaction.atomic():
                ledger.move_reservation(payment=payment, provider=chosen, fee=fee)
        except errors.InsufficientBalance as exc:
            payment.save(update_fields=["routing", "updated_at"])
            transition_payment(
                payment=payment,
                status=Status.FAILED,
                failure_code=FailureCode.INSUFFICIENT_FUNDS,
                failure_message=exc.detail,
            )
            return
    payment.provider, payment.fee = chosen, fee
    if payment.cap_day is not None:
        routes.release_usage(payment, provider=previous)
        payment.cap_day = None
    config = configs.get(chosen)
    cap = config.limits(payment.flow).daily_cap if config else None
    if cap is None:
        return
    try:
        with transaction.atomic():
            payment.cap_day = routes.consume_daily_cap(
                tenant=payment.tenant,
                mode=payment.mode,
                provider=chosen,
                flow=payment.flow,
                amount=payment.amount,
                cap=cap,
            )
    except errors.DailyCapExceeded as exc:
        payment.save(update_fields=["routing", "provider", "fee", "cap_day", "updated_at"])
        transition_payment(
            payment=payment,
            status=Status.FAILED,
            failure_code=FailureCode.LIMIT_EXCEEDED,
            failure_message=exc.detail,
        )


@transaction.atomic  # may nest in the idempotency middleware's transaction
def cancel_payment(*, payment: Payment, actor: audit.Actor) -> Payment:
    """Cancel a payment still queued for its operator: FAILED `cancelled`, its reservation
    released, nothing ever sent. Raises PaymentNotCancellable for any other payment."""
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    if locked.is_final or locked.queued_at is None or locked.submitted_at is not None:
        state = locked.status if locked.is_final else "already handed to its operator"
        raise errors.PaymentNotCancellable(
            f"{locked.public_id} is {state}: only a queued payment can be cancelled."
        )
    transition_payment(
        payment=locked,
        status=Status.FAILED,
        failure_code=FailureCode.CANCELLED,
        failure_message="Cancelled while queued; never sent to the operator.",
        actor=actor,
    )
    return locked


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
    if not _can_enquire(payment):
        # Nothing to ask the operator: the payment goes to (or stays with) manual review.
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _after_pending_answer(payment, scheduled=scheduled)
        return payment
    adapter = registry.get_adapter(payment.provider, payment.mode)
    try:
        result = adapter.fetch_status(instruction_for(payment))
    except ProviderError as exc:
        # The operator does not know the reference (the adapter judged, by its operator's
        # enquiry lag, that it should by now): the request was lost on the way (a 5xx or a
        # timeout before the operator stored it), or is still on its way. Sending it again
        # with the same reference is safe either way: the operator refuses a duplicate. Only
        # here, under the payment's lease, is anything sent again.
        resend = isinstance(exc, UnknownReference) and _may_resend(payment)
        with transaction.atomic(durable=True):
            payment = _locked(payment_id)
            _record(payment, exc.calls, exc.kind)
            if not resend:
                _after_pending_answer(payment, scheduled=scheduled)
        if resend:
            logger.warning(
                "operator does not know the reference: sending again", extra=_log_context(payment)
            )
            return _send(payment, resend=True)
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
    expiry never waits on a job. A payment whose lease is held is left to its holder, one under
    manual review to ops, and one its operator cannot be asked about is flagged for review.
    """
    ensure_outside_transaction()
    now = timezone.now()
    overdue_before = now - timedelta(seconds=settings.PAYMENT_LEASE_SECONDS)
    expired = 0
    with transaction.atomic(durable=True):
        overdue = list(
            Payment.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, expires_at__lt=overdue_before)
            .filter(review_flagged_at__isnull=True)
            .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=now))
            .order_by("expires_at")[: batch_size or settings.PAYMENT_POLL_BATCH_SIZE]
        )
        for payment in overdue:
            expired += _expire(payment)
    return expired


@transaction.atomic
def resolve_review(
    *,
    payment: Payment,
    status: Status,
    reason: str,
    actor: audit.Actor,
    provider_transaction_id: str = "",
) -> Payment:
    """Ops settle a payment under manual review, SUCCESSFUL or FAILED, after establishing the
    outcome with the operator outside the API (its portal, a statement, support). The reason
    is mandatory and audited; the ledger posts or voids through the one writer of status.

    Raises PaymentNotUnderReview when the payment is not waiting for a review (any more),
    PermissionDenied when a staff actor lacks `payments.resolve_review`.
    """
    audit.require_permission(actor, RESOLVE_REVIEW_PERMISSION)
    locked = _locked(payment.pk)
    if not locked.needs_review:
        raise errors.PaymentNotUnderReview(
            f"{locked.public_id} is {locked.status} and not flagged for a manual review."
        )
    _settle_by_hand(
        locked,
        status=status,
        reason=reason,
        provider_transaction_id=provider_transaction_id,
        actor=actor,
        action="payment.review_resolved",
        why="after a manual review",
        data={"flagged_because": locked.review_reason},
    )
    return locked


@transaction.atomic
def resolve_payment(
    *,
    payment: Payment,
    status: Status,
    reason: str,
    actor: audit.Actor,
    provider_transaction_id: str = "",
) -> Payment:
    """Ops settle a stuck PENDING payment by hand, SUCCESSFUL or FAILED, once they know its
    outcome from the operator (its portal, a statement): the same path as a review, for any
    pending payment. The merchant gets its webhook event like for any final status.

    Raises PaymentAlreadyFinal for a final payment, PermissionDenied when a staff actor lacks
    `payments.resolve_payment`.
    """
    audit.require_permission(actor, RESOLVE_PERMISSION)
    locked = _locked(payment.pk)
    if locked.is_final:
        raise errors.PaymentAlreadyFinal(f"{locked.public_id} is already {locked.status}.")
    _settle_by_hand(
        locked,
        status=status,
        reason=reason,
        provider_transaction_id=provider_transaction_id,
        actor=actor,
        action="payment.resolved_by_hand",
        why="by hand",
    )
    return locked


def _settle_by_hand(
    locked: Payment,
    *,
    status: Status,
    reason: str,
    provider_transaction_id: str,
    actor: audit.Actor,
    action: str,
    why: str,
    data: dict[str, Any] | None = None,
) -> None:
    """A staff member's word on a locked PENDING payment's outcome, with a mandatory reason,
    audited, through the one writer of status (ledger, merchant event and all)."""
    if status not in FINAL_STATUSES:
        raise errors.invalid_field("status", "Settle a payment SUCCESSFUL or FAILED.")
    reason, provider_transaction_id = reason.strip(), provider_transaction_id.strip()
    if not reason:
        raise errors.invalid_field("reason", "Say how the outcome was established.")
    audit.record(
        actor=actor,
        action=action,
        target=locked,
        tenant=locked.tenant,
        data={
            "public_id": locked.public_id,
            "status": status,
            "reason": reason,
            "provider_transaction_id": provider_transaction_id,
            **(data or {}),
        },
    )
    transition_payment(
        payment=locked,
        status=status,
        failure_code=FailureCode.PROVIDER_ERROR,
        failure_message=f"Settled by ops {why}: {reason}",
        provider_transaction_id=provider_transaction_id,
        actor=actor,
    )
    logger.info("payment settled by hand", extra={**_log_context(locked), "status": status})


# A final payment this recent can still be re-checked: the operator is asked and its answer
# kept in the timeline, and a disagreement flagged (the status itself never changes).
RECHECK_FINAL_WITHIN = timedelta(days=7)


@transaction.atomic
def recheck_payment(*, payment: Payment, actor: audit.Actor) -> bool:
    """Ops ask the operator again (the admin's re-check): audited whether or not a check is
    queued, so the trail shows who asked. A pending payment gets a status refresh; a final one
    finished within RECHECK_FINAL_WITHIN, a comparison (`compare_with_operator`). False when
    nothing is queued (an older final payment, or one the operator cannot be asked about)."""
    audit.require_permission(actor, RECHECK_PERMISSION)
    if payment.is_final:
        queued = _can_compare(payment)
        if queued:
            _defer("payments.compare_with_operator", payment.pk, deduplicate=True)
    else:
        queued = request_refresh(payment=payment)
    audit.record(
        actor=actor,
        action="payment.recheck_requested",
        target=payment,
        tenant=payment.tenant,
        data={"public_id": payment.public_id, "status": payment.status, "queued": queued},
    )
    return queued


def _can_compare(payment: Payment) -> bool:
    recent = payment.completed_at is not None and (
        timezone.now() - payment.completed_at <= RECHECK_FINAL_WITHIN
    )
    return recent and payment.submitted_at is not None and _can_enquire(payment)


def compare_with_operator(*, payment_id: int) -> Payment:
    """Ask the operator about a final payment and keep its answer in the timeline. The status
    never changes (it is final); when the operator's final answer differs from ours, an audit
    row `payment.operator_disagrees` says so, for ops to settle (a refund, reconciliation)."""
    ensure_outside_transaction()
    payment = Payment.objects.select_related("refund_of").get(pk=payment_id)
    if not payment.is_final:
        return payment
    adapter = registry.get_adapter(payment.provider, payment.mode)
    try:
        # A read only: an operator that does not know the payment's reference is recorded
        # (unknown_reference), never sent anything, for a payment whose money is settled.
        result = adapter.fetch_status(instruction_for(payment))
        calls, outcome = result.calls, str(result.outcome)
    except ProviderError as exc:
        calls, outcome = exc.calls, exc.kind
    with transaction.atomic(durable=True):
        payment = _locked(payment_id)
        _record(payment, calls, outcome)
        theirs = {Outcome.SUCCESSFUL: Status.SUCCESSFUL, Outcome.FAILED: Status.FAILED}
        if outcome in theirs and theirs[Outcome(outcome)] != payment.status:
            audit.record(
                actor=audit.SYSTEM,
                action="payment.operator_disagrees",
                target=payment,
                tenant=payment.tenant,
                data={"public_id": payment.public_id, "ours": payment.status, "theirs": outcome},
            )
            logger.warning(
                "operator disagrees with a final status",
                extra={**_log_context(payment), "operator_outcome": outcome},
            )
    return payment


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
    if not _can_enquire(payment):
        _flag_for_review(payment)
        return
    if now >= payment.expires_at:
        _save_progress(payment)
        _expire(payment)
        return
    if scheduled:
        if not first:
            payment.poll_count += 1
        payment.next_poll_at = min(now + _backoff(payment.poll_count), payment.expires_at)
    _save_progress(payment, release=True)


def _may_resend(payment: Payment) -> bool:
    """Whether a request the operator does not know may be sent again: at most
    PAYMENT_SUBMIT_MAX_ATTEMPTS times, and only while at least half of the payment's window
    (PAYMENT_EXPIRY_SECONDS, from its creation or its leaving the queue) is left, so that a
    request sent again has time to settle before the payment could expire (an expired
    payment must never have a live request at its operator)."""
    half_window = timedelta(seconds=settings.PAYMENT_EXPIRY_SECONDS) / 2
    return (
        payment.submit_attempts < settings.PAYMENT_SUBMIT_MAX_ATTEMPTS
        and payment.expires_at - timezone.now() >= half_window
    )


def _can_enquire(payment: Payment) -> bool:
    """Whether the operator can be asked this payment's status (its adapter declares it)."""
    return registry.capabilities(payment.provider).can_enquire(_OPERATIONS[Flow(payment.flow)])


def _log_send_started(payment: Payment) -> None:
    """Commit, before sending, that a send is starting: for an operation its operator cannot
    be asked about, a resend after a crash mid-call would not be recognised as the same
    request (an Airtel refund carries no reference of ours, and a second one is refused as
    "already refunded" while the first moved the money), so only this row can tell that an
    attempt may have reached the operator. Autocommit: no transaction is open here."""
    payment.send_started_at = timezone.now()
    Payment.objects.filter(pk=payment.pk).update(send_started_at=payment.send_started_at)


def _flag_unknown_attempt(payment_id: int) -> Payment:
    """An earlier attempt began sending and recorded nothing (its worker was killed, or the
    database went away before the answer was stored): never resend, never fail it; ops
    establish the outcome with the operator."""
    logger.warning("previous send attempt outcome unknown", extra={"payment_id": payment_id})
    with transaction.atomic(durable=True):
        payment = _locked(payment_id)
        payment.submitted_at = payment.send_started_at  # it may have reached the operator
        _flag_for_review(
            payment, why="a previous attempt's outcome is unknown (it stopped mid-call)"
        )
    return payment


def _expire(payment: Payment) -> bool:
    """Fail a payment past its window `expired`; but one whose operator cannot be asked about
    it may have moved money (a refund whose answer was lost), so it goes to manual review."""
    if not _can_enquire(payment):
        _flag_for_review(payment)
        return False
    return transition_payment(
        payment=payment,
        status=Status.FAILED,
        failure_code=FailureCode.EXPIRED,
        failure_message="The operator gave no final status within the payment's window.",
    )


def _flag_for_review(payment: Payment, *, why: str = "its final answer was not received") -> None:
    """No answer can settle the payment any more: stop polling and never expire it; ops
    establish the outcome with the operator and resolve it. The caller holds the row lock."""
    payment.next_poll_at = None
    if payment.review_flagged_at is not None:
        _save_progress(payment, release=True)
        return
    operation = _OPERATIONS[Flow(payment.flow)]
    payment.review_flagged_at = timezone.now()
    payment.review_reason = (
        f"{Provider(payment.provider).label} has no status enquiry for a {operation}, and "
        f"{why}: the money may have moved."
    )[:255]
    _save_progress(payment, release=True, extra=["review_flagged_at", "review_reason"])
    audit.record(
        actor=audit.SYSTEM,
        action="payment.review_flagged",
        target=payment,
        tenant=payment.tenant,
        data={"public_id": payment.public_id, "reason": payment.review_reason},
    )
    # Not a failure, and not expiry: failing it could release money that has already left.
    logger.warning(
        "payment needs manual review",
        extra={**_log_context(payment), "provider": payment.provider, "flow": payment.flow},
    )


# The columns a submission or a check may update; never `status` (transition_payment's alone).
_PROGRESS_FIELDS = [
    "submitted_at",
    "send_started_at",
    "submit_attempts",
    "next_poll_at",
    "poll_count",
    "updated_at",
]


def _save_progress(
    payment: Payment, *, release: bool = False, extra: list[str] | None = None
) -> None:
    fields = [*_PROGRESS_FIELDS, *(extra or [])]
    if release:
        payment.busy_until, payment.lease_holder = None, ""
        fields += ["busy_until", "lease_holder"]
    payment.save(update_fields=fields)


def _record(
    payment: Payment, calls: list[ProviderCall], outcome: str, *, provider: str | None = None
) -> None:
    Transaction.objects.bulk_create(
        Transaction(
            payment=payment,
            provider=provider or payment.provider,
            mode=payment.mode,
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
