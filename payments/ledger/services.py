"""Postings. Called inside the transaction of the change they belong to (a payment created,
a final status, a top-up, an adjustment): all commit together, or none.

Merchant accounts change only through `_move`, one conditional UPDATE that checks the limit
and moves the totals at once, so concurrent payouts can never take a balance below zero.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q

from audit import services as audit
from payments import errors
from payments.ledger.models import (
    FLOW_KIND,
    ZERO,
    Account,
    AccountKind,
    Entry,
    EntryKind,
    EntryPhase,
    FeeSchedule,
)
from payments.models import Flow, Payment, Status
from tenants.models import Mode, Tenant

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
ADJUST_PERMISSION = "payments.adjust_balance"  # what a staff user needs to move a balance


# --- fees -----------------------------------------------------------------------------------


# The tenant's price for a payment: percent of the amount (rounded half up to the cent) plus
# the fixed part, at least the minimum; a collection's fee never exceeds its amount; no
# schedule, no fee. An SQL expression over the new payment's own parameters (`%(tenant_id)s`,
# `%(provider)s`, `%(flow)s`, `%(amount)s`), for its INSERT: the fee is read from the schedule
# as committed at that instant, so a changed price applies to the very next payment in every
# process, and the look-up costs no statement of its own and no cache that could go stale.
# (PostgreSQL's round() on numeric rounds half away from zero: half up, for fees >= 0.)
def fee_sql(column: Callable[[str], str] = "%({})s".format) -> str:
    """FEE_SQL over other inputs: `column("amount")` is the SQL of the payment's amount (and
    so for flow, tenant_id, provider), e.g. a column of a many-row INSERT's source."""
    flow, amount, tenant_id, provider = map(column, ("flow", "amount", "tenant_id", "provider"))
    return f"""COALESCE((
    SELECT CASE WHEN {flow} = '{Flow.COLLECTION}' THEN LEAST(fee, {amount}::numeric)
                ELSE fee END
    FROM (SELECT GREATEST(round({amount}::numeric * percent * 0.01, 2) + fixed, minimum)
          FROM {FeeSchedule._meta.db_table}
          WHERE tenant_id = {tenant_id} AND provider = {provider} AND flow = {flow}
         ) AS schedule (fee)
), 0)"""  # noqa: S608  # nosec B608  # the model's own table name; values are parameters or columns


FEE_SQL = fee_sql()


def fee_for(*, tenant: Tenant, provider: str, flow: str, amount: Decimal) -> Decimal:
    """FEE_SQL's price as a statement of its own, for a payment that moves to another
    operator before it is sent (a ported number's fallback)."""
    params: dict[str, Any] = {
        "tenant_id": tenant.pk,
        "provider": provider,
        "flow": flow,
        "amount": amount,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {FEE_SQL}", params)
        (fee,) = cursor.fetchone()
    return Decimal(fee).quantize(CENT)


def _schedule_data(schedule: FeeSchedule) -> dict[str, str]:
    return {
        "provider": schedule.provider,
        "flow": schedule.flow,
        "percent": str(schedule.percent),
        "fixed": str(schedule.fixed),
        "minimum": str(schedule.minimum),
    }


@transaction.atomic
def save_fee_schedule(*, schedule: FeeSchedule, actor: audit.Actor) -> FeeSchedule:
    """Create or change a tenant's price for one operator and flow, audited with the price
    before and after. Only payments created from now on pay it: each payment keeps the fee
    copied onto it at creation."""
    schedule.full_clean()
    before = FeeSchedule.objects.filter(pk=schedule.pk).first() if schedule.pk else None
    schedule.save()
    schedule.refresh_from_db()  # the values as stored (2 -> 2.000), for the audit row
    audit.record(
        actor=actor,
        action="fee_schedule.changed" if before else "fee_schedule.created",
        target=schedule,
        tenant=schedule.tenant,
        data={"before": _schedule_data(before) if before else None, **_schedule_data(schedule)},
    )
    return schedule


@transaction.atomic
def delete_fee_schedule(*, schedule: FeeSchedule, actor: audit.Actor) -> None:
    """Back to no fee for this operator and flow (for new payments only), audited."""
    audit.record(
        actor=actor,
        action="fee_schedule.deleted",
        target=schedule,
        tenant=schedule.tenant,
        data=_schedule_data(schedule),
    )
    schedule.delete()


# --- accounts -------------------------------------------------------------------------------


def merchant_account(*, tenant_id: object, mode: str, currency: str) -> Account:
    return _account(kind=AccountKind.MERCHANT, tenant_id=tenant_id, mode=mode, currency=currency)


def float_account(*, provider: str, mode: str, currency: str) -> Account:
    return _account(
        kind=AccountKind.OPERATOR_FLOAT, provider=provider, mode=mode, currency=currency
    )


def gateway_account(*, kind: AccountKind, mode: str, currency: str) -> Account:
    return _account(kind=kind, mode=mode, currency=currency)


def _account(
    *, kind: AccountKind, mode: str, currency: str, tenant_id: object = None, provider: str = ""
) -> Account:
    lookup = {
        "kind": kind,
        "tenant_id": tenant_id,
        "provider": provider,
        "mode": mode,
        "currency": currency,
    }
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():  # a concurrent first payment may create it first
            return Account.objects.create(**lookup)
    except IntegrityError:
        return Account.objects.get(**lookup)


# --- payments -------------------------------------------------------------------------------


def reserve_for_payments(*, payments: Sequence[Payment], actor: audit.Actor) -> None:
    """Money leaving (payouts, refunds) of one merchant, mode and currency: reserve each one's
    amount + fee from the available balance, all of them by one conditional UPDATE, or raise
    InsufficientBalance (for the total) and change nothing."""
    if not payments:
        return
    first = payments[0]
    merchant = merchant_account(tenant_id=first.tenant_id, mode=first.mode, currency=first.currency)
    total = sum((payment.amount + payment.fee for payment in payments), ZERO)
    moved = _move(merchant, debits_pending=total, require_available=total)
    if moved is None:
        available = Account.objects.get(pk=merchant.pk).available
        needs = (
            f"this needs {total} ({first.amount} and a fee of {first.fee})"
            if len(payments) == 1
            else f"these {len(payments)} payments need {total} with their fees"
        )
        raise errors.InsufficientBalance(
            f"Available {available} {first.currency}; {needs}.",
            available=str(available),
            required=str(total),
        )
    available, reserved = moved
    fees = gateway_account(kind=AccountKind.FEES, mode=first.mode, currency=first.currency)
    floats: dict[str, Account] = {}
    entries = []
    # Balances leg by leg; the totals returned are those after the last leg.
    rest = total
    for payment in payments:
        if payment.provider not in floats:
            floats[payment.provider] = float_account(
                provider=payment.provider, mode=payment.mode, currency=payment.currency
            )
        kind = FLOW_KIND[Flow(payment.flow)]
        legs = [
            (kind, floats[payment.provider], payment.amount),
            (EntryKind.FEE, fees, payment.fee),
        ]
        for leg_kind, credit, amount in legs:
            if not amount:
                continue
            rest -= amount
            entries.append(
                _new_entry(
                    payment=payment,
                    code=str(leg_kind),
                    kind=leg_kind,
                    phase=EntryPhase.PENDING,
                    debit=merchant,
                    credit=credit,
                    amount=amount,
                    available_after=available + rest,
                    reserved_after=reserved - rest,
                    actor=actor,
                )
            )
    Entry.objects.bulk_create(entries)


# A reservation moved to another operator: the void's code suffix (checks.py leaves it out).
MOVED = ":moved"


def move_reservation(*, payment: Payment, provider: str, fee: Decimal) -> None:
    """A payout re-routed before it was sent (a fallback lookup chose another operator): its
    open reservation is voided (codes `<leg>:moved`) and made again towards the new
    operator's float with its fee (codes `<leg>@<operator>`), in the caller's transaction.
    Raises InsufficientBalance, changing nothing, when the available balance cannot cover a
    higher fee. Every entry is two-sided, so the postings still sum to zero."""
    pending = _open_reservation(payment)
    merchant = merchant_account(
        tenant_id=payment.tenant_id, mode=payment.mode, currency=payment.currency
    )
    old_total = sum((entry.amount for entry in pending), ZERO)
    delta = payment.amount + fee - old_total
    moved = _move(merchant, debits_pending=delta, require_available=max(delta, ZERO))
    if moved is None:
        available = Account.objects.get(pk=merchant.pk).available
        raise errors.InsufficientBalance(
            f"Available {available} {payment.currency}; the fee at {provider} needs {delta} more.",
            available=str(available),
            required=str(delta),
        )
    available, reserved = moved
    # Running balances as if the voids came first, then the new reservation.
    available_now, reserved_now = available + delta - old_total, reserved - delta + old_total
    for entry in pending:
        _entry(
            payment=payment,
            code=f"{entry.code}{MOVED}",
            kind=EntryKind(entry.kind),
            phase=EntryPhase.VOID_PENDING,
            debit=merchant,
            credit=entry.credit_account,
            amount=entry.amount,
            pending=entry,
            available_after=available_now + entry.amount,
            reserved_after=reserved_now - entry.amount,
            actor=audit.SYSTEM,
        )
        available_now, reserved_now = available_now + entry.amount, reserved_now - entry.amount
    _reserve_legs(
        payment=payment,
        merchant=merchant,
        provider=provider,
        fee=fee,
        available_after=available,
        reserved_after=reserved,
        actor=audit.SYSTEM,
        code_suffix=f"@{provider}",
    )


def _open_reservation(payment: Payment) -> list[Entry]:
    """A payment's pending entries not yet resolved (one moved to another operator was)."""
    return list(
        Entry.objects.filter(
            payment=payment, phase=EntryPhase.PENDING, resolution__isnull=True
        ).order_by("id")
    )


def _reserve_legs(
    *,
    payment: Payment,
    merchant: Account,
    provider: str,
    fee: Decimal,
    available_after: Decimal,
    reserved_after: Decimal,
    actor: audit.Actor,
    code_suffix: str = "",
) -> None:
    """The pending entries of a reservation already moved on the merchant's totals (which
    are `available_after`, `reserved_after` once they are all written): the amount towards
    the operator's float, the fee towards the gateway's fees."""
    float_ = float_account(provider=provider, mode=payment.mode, currency=payment.currency)
    fees = gateway_account(kind=AccountKind.FEES, mode=payment.mode, currency=payment.currency)
    kind = FLOW_KIND[Flow(payment.flow)]
    legs = [
        (leg_kind, credit, amount)
        for leg_kind, credit, amount in [(kind, float_, payment.amount), (EntryKind.FEE, fees, fee)]
        if amount
    ]
    # Balances leg by leg; the totals returned are those after the last leg.
    rest = sum((amount for _, _, amount in legs), ZERO)
    for leg_kind, credit, amount in legs:
        rest -= amount
        _entry(
            payment=payment,
            code=f"{leg_kind}{code_suffix}",
            kind=leg_kind,
            phase=EntryPhase.PENDING,
            debit=merchant,
            credit=credit,
            amount=amount,
            available_after=available_after + rest,
            reserved_after=reserved_after - rest,
            actor=actor,
        )


def post_final_status(*, payment: Payment) -> None:
    """What a final status does to balances. Called by the one writer of status, in its
    transaction, exactly once per payment."""
    if payment.flow == Flow.COLLECTION:
        if payment.status == Status.SUCCESSFUL:
            _post_collection(payment)
        return
    pending = _open_reservation(payment)
    if not pending:
        # A payment older than the ledger, never backfilled: check_ledger reports it.
        logger.error("no reservation to resolve", extra={"payment_id": payment.public_id})
        return
    post = payment.status == Status.SUCCESSFUL
    total = sum((entry.amount for entry in pending), ZERO)
    merchant = pending[0].debit_account
    moved = _move(merchant, debits_pending=-total, debits_posted=total if post else ZERO)
    assert moved is not None  # noqa: S101  # releasing a reservation needs no headroom
    available, reserved = moved
    remaining = total
    for entry in pending:
        remaining -= entry.amount
        _entry(
            payment=payment,
            code=f"{entry.code}:{'post' if post else 'void'}",
            kind=EntryKind(entry.kind),
            phase=EntryPhase.POST_PENDING if post else EntryPhase.VOID_PENDING,
            debit=merchant,
            credit=entry.credit_account,
            amount=entry.amount,
            pending=entry,
            # A void returns the money leg by leg; a post leaves available as it was.
            available_after=available - (remaining if not post else ZERO),
            reserved_after=reserved + remaining,
            actor=audit.SYSTEM,
        )


def post_late_collection(*, payment: Payment, actor: audit.Actor) -> None:
    """A collection the operator settled after we had failed it as expired (reconciliation
    found it): the money is in the operator's float, so the merchant is credited as for a
    success, minus its fee, under codes of their own (LATE_CODES). The status stays FAILED: a
    final status never changes. Once per payment: the codes are unique per payment."""
    if payment.flow != Flow.COLLECTION or payment.status != Status.FAILED:
        raise errors.invalid_field(
            "payment", f"{payment.public_id} is a {payment.status} {payment.flow}."
        )
    _post_collection(payment, codes=LATE_CODES, actor=actor)


# The codes of a late success's entries (the collection's amount, its fee).
LATE_CODES = ("late_collection", "late_fee")


def _post_collection(
    payment: Payment,
    *,
    codes: tuple[str, str] = (EntryKind.COLLECTION, EntryKind.FEE),
    actor: audit.Actor = audit.SYSTEM,
) -> None:
    merchant = merchant_account(
        tenant_id=payment.tenant_id, mode=payment.mode, currency=payment.currency
    )
    moved = _move(merchant, credits_posted=payment.amount, debits_posted=payment.fee)
    assert moved is not None  # noqa: S101  # a credit needs no headroom
    available, reserved = moved
    float_ = float_account(provider=payment.provider, mode=payment.mode, currency=payment.currency)
    _entry(
        payment=payment,
        code=codes[0],
        kind=EntryKind.COLLECTION,
        phase=EntryPhase.POSTED,
        debit=float_,
        credit=merchant,
        amount=payment.amount,
        available_after=available + payment.fee,
        reserved_after=reserved,
        actor=actor,
    )
    if payment.fee:
        fees = gateway_account(kind=AccountKind.FEES, mode=payment.mode, currency=payment.currency)
        _entry(
            payment=payment,
            code=codes[1],
            kind=EntryKind.FEE,
            phase=EntryPhase.POSTED,
            debit=merchant,
            credit=fees,
            amount=payment.fee,
            available_after=available,
            reserved_after=reserved,
            actor=actor,
        )


# --- top-ups and adjustments ----------------------------------------------------------------


@transaction.atomic
def adjust_balance(
    *,
    tenant: Tenant,
    mode: Mode | str,
    amount: Decimal,
    currency: str,
    reason: str,
    actor: audit.Actor,
    kind: EntryKind = EntryKind.ADJUSTMENT,
) -> Entry:
    """Credit (amount > 0) or debit (amount < 0) a merchant's available balance against the
    gateway's equity: a test top-up, or finance recording money in or a settlement out."""
    audit.require_permission(actor, ADJUST_PERMISSION)
    if amount == 0 or amount != amount.quantize(CENT):
        raise errors.invalid_field("amount", "A non-zero amount with at most 2 decimals.")
    if not reason.strip():
        raise errors.invalid_field("reason", "Say why the balance changes.")
    merchant = merchant_account(tenant_id=tenant.pk, mode=mode, currency=currency)
    equity = gateway_account(kind=AccountKind.EQUITY, mode=mode, currency=currency)
    size = abs(amount)
    if amount > 0:
        moved = _move(merchant, credits_posted=size)
        debit, credit = equity, merchant
    else:
        moved = _move(merchant, debits_posted=size, require_available=size)
        debit, credit = merchant, equity
    if moved is None:
        raise errors.InsufficientBalance(f"The available balance is below {size} {currency}.")
    entry = _entry(
        payment=None,
        code="",
        kind=kind,
        phase=EntryPhase.POSTED,
        debit=debit,
        credit=credit,
        amount=size,
        available_after=moved[0],
        reserved_after=moved[1],
        actor=actor,
        description=reason.strip()[:255],
    )
    audit.record(
        actor=actor,
        action=f"ledger.{kind}",
        target=entry,
        tenant=tenant,
        data={"amount": str(amount), "currency": currency, "mode": str(mode), "reason": reason},
    )
    return entry


# --- backfill -------------------------------------------------------------------------------


def backfill(*, batch_size: int = 500) -> int:
    """Post the payments made before the ledger existed, oldest first, as if it had seen them:
    successful collections credit their merchant; payouts and refunds reserve, then post or
    void. Safe to run again (it only takes payments with no entry) and beside live traffic
    (each payment under its row lock). Returns how many payments it posted."""
    posted = 0
    while True:
        candidates = list(
            Payment.objects.filter(
                Q(flow=Flow.COLLECTION, status=Status.SUCCESSFUL) | ~Q(flow=Flow.COLLECTION)
            )
            .filter(~Exists(Entry.objects.filter(payment=OuterRef("pk"))))
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:batch_size]
        )
        for pk in candidates:
            posted += _backfill_one(pk)
        if len(candidates) < batch_size:
            return posted


@transaction.atomic(durable=True)
def _backfill_one(payment_pk: int) -> bool:
    payment = Payment.objects.select_for_update().get(pk=payment_pk)
    if Entry.objects.filter(payment=payment).exists():
        return False  # posted meanwhile
    actor = audit.Actor(kind=audit.SYSTEM.kind, label="ledger backfill")
    if payment.flow == Flow.COLLECTION:
        _post_collection(payment)
        return True
    merchant = merchant_account(
        tenant_id=payment.tenant_id, mode=payment.mode, currency=payment.currency
    )
    shortfall = payment.amount + payment.fee - Account.objects.get(pk=merchant.pk).available
    if shortfall > 0:
        # The money left before the ledger could check it: record where it came from, so
        # balances stay true and never negative (finance reconciles these entries).
        adjust_balance(
            tenant=payment.tenant,
            mode=payment.mode,
            amount=shortfall,
            currency=payment.currency,
            reason=f"opening balance: {payment.public_id} was sent before the ledger existed",
            actor=actor,
        )
    reserve_for_payments(payments=[payment], actor=actor)
    if payment.is_final:
        post_final_status(payment=payment)
    return True


# --- internals ------------------------------------------------------------------------------


def _move(
    account: Account,
    *,
    credits_posted: Decimal = ZERO,
    debits_posted: Decimal = ZERO,
    debits_pending: Decimal = ZERO,
    require_available: Decimal | None = None,
) -> tuple[Decimal, Decimal] | None:
    """Move a merchant account's totals in one statement; with `require_available`, only if
    that much is available (checked by the same statement). Returns (available, reserved)
    after the move, or None when the balance is short."""
    sql = (
        "UPDATE ledger_account SET credits_posted = credits_posted + %s,"
        " debits_posted = debits_posted + %s, debits_pending = debits_pending + %s"
        " WHERE id = %s"
    )
    params: list[Decimal | int] = [credits_posted, debits_posted, debits_pending, account.pk]
    if require_available is not None:
        sql += " AND credits_posted - debits_posted - debits_pending >= %s"
        params.append(require_available)
    sql += " RETURNING credits_posted - debits_posted - debits_pending, debits_pending"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def _entry(**fields: Any) -> Entry:
    entry = _new_entry(**fields)
    entry.save()
    return entry


def _new_entry(
    *,
    payment: Payment | None,
    code: str,
    kind: EntryKind,
    phase: EntryPhase,
    debit: Account,
    credit: Account,
    amount: Decimal,
    available_after: Decimal,
    reserved_after: Decimal,
    actor: audit.Actor,
    pending: Entry | None = None,
    description: str = "",
) -> Entry:
    return Entry(
        payment=payment,
        code=code,
        kind=kind,
        phase=phase,
        debit_account=debit,
        credit_account=credit,
        amount=amount,
        currency=debit.currency,
        mode=debit.mode,
        pending=pending,
        available_after=available_after,
        reserved_after=reserved_after,
        actor_label=actor.label or actor.kind,
        description=description,
    )
