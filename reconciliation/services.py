"""Writes for reconciliation: import a statement, resolve what differs, mark a payment checked.

A statement never changes a payment by itself, as a callback never does: what differs is an
item for ops, and its resolution goes through payments' own services. A status a statement
contradicts is settled by a re-check with the operator (the status endpoint confirms it, then
the one writer of status moves it); a collection settled after we expired it keeps its FAILED
status (a final status never changes) and is credited to the merchant through the ledger,
who is notified with a `payment.settled_late` event (docs/reconciliation.md says why).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit import services as audit
from gateway.errors import ValidationFailed
from payments import services as payments
from payments.ledger import services as ledger
from payments.models import Flow, Payment, Status
from providers.base import FailureCode
from reconciliation.models import (
    ItemKind,
    PaymentReconciliation,
    ReconciliationItem,
    ReconciliationRun,
    Resolution,
)
from reconciliation.parsers import StatementLine, parser_for
from reports import selectors as reports
from tenants.models import Mode, Tenant
from webhooks.outbound import services as webhooks

logger = logging.getLogger(__name__)

IMPORT_PERMISSION = "reconciliation.import_statement"
RESOLVE_PERMISSION = "reconciliation.resolve_item"
EXPORT_PERMISSION = "reconciliation.export_summary"
MARK_PERMISSION = "reconciliation.mark_reconciled"

# Lines matched per query (and items written per INSERT): statements of any length cost one
# bounded query per CHUNK lines.
CHUNK = 1000
# The payment columns a comparison needs (the item copies them).
_FIELDS = (
    "pk",
    "tenant_id",
    "flow",
    "status",
    "failure_code",
    "amount",
    "public_id",
    "provider_reference",
    "provider_transaction_id",
    "external_id",
)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(errors=[{"field": field, "message": message}])


# --- import ---------------------------------------------------------------------------------


@transaction.atomic
def reconcile_statement(
    *,
    provider: str,
    mode: Mode | str,
    rows: Iterable[str],
    filename: str,
    actor: audit.Actor,
    tenant: Tenant | None = None,
) -> ReconciliationRun:
    """Compare an operator statement with our payments of that operator and mode (and
    tenant, when given): one item per line, plus one per successful payment of ours in the
    statement's Lusaka days that no line names. Raises ValidationFailed (field `file`) for a
    file the operator's parser cannot read, with nothing recorded."""
    audit.require_permission(actor, IMPORT_PERMISSION)
    lines = list(parser_for(provider).parse(rows))
    if not lines:
        raise _invalid("file", "The statement has no transaction lines.")
    days = [line.occurred_at.astimezone(reports.zone()).date() for line in lines]
    run = ReconciliationRun.objects.create(
        provider=provider,
        mode=mode,
        tenant=tenant,
        filename=filename[:255],
        period_start=min(days),
        period_end=max(days),
        lines=len(lines),
        imported_by=actor.label or actor.kind,
    )
    ours = Payment.objects.filter(provider=provider, mode=mode)
    if tenant is not None:
        ours = ours.filter(tenant=tenant)
    matched: set[int] = set()
    counts: Counter[str] = Counter()
    for chunk in _chunks(lines):
        items = [_item_for(run, line, found) for line, found in _match(ours, chunk)]
        matched.update(item.payment_id for item in items if item.payment_id is not None)
        counts.update(item.kind for item in items)
        ReconciliationItem.objects.bulk_create(items)
    for batch in _chunks(_missing_there(run, ours, matched)):
        counts.update(item.kind for item in batch)
        ReconciliationItem.objects.bulk_create(batch)
    run.counts = dict(counts)
    run.save(update_fields=["counts"])
    audit.record(
        actor=actor,
        action="reconciliation.imported",
        target=run,
        tenant=tenant,
        data={"provider": provider, "mode": str(mode), "file": run.filename, **run.counts},
    )
    logger.info("statement reconciled", extra={"run_id": run.pk, **run.counts})
    return run


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


@dataclass(frozen=True)
class _Ours:
    pk: int
    tenant_id: Any
    flow: str
    status: str
    failure_code: str
    amount: Any


def _match(ours: Any, lines: list[StatementLine]) -> Iterator[tuple[StatementLine, _Ours | None]]:
    """Each line with the payment it names: by the operator's transaction id, else by our
    reference (a payment id or provider_reference), else by the merchant's external_id when
    exactly one payment has it. Three indexed look-ups per chunk, whatever its size."""
    public_ids, references = set(), set()
    for line in lines:
        if line.reference.startswith("pay_"):
            public_ids.add(line.reference)
        elif (reference := _uuid(line.reference)) is not None:
            references.add(reference)
    transaction_ids = {line.transaction_id for line in lines if line.transaction_id}
    external_ids = {line.external_id for line in lines if line.external_id}
    rows = ours.filter(
        Q(provider_transaction_id__in=transaction_ids)
        | Q(public_id__in=public_ids)
        | Q(provider_reference__in=references)
        | Q(external_id__in=external_ids)
    ).values_list(*_FIELDS)
    by_transaction: dict[str, _Ours] = {}
    by_reference: dict[str, _Ours] = {}
    by_external: dict[str, list[_Ours]] = {}
    for pk, tenant_id, flow, status, code, amount, public_id, ref, txn, external in rows:
        payment = _Ours(pk, tenant_id, flow, status, code, amount)
        if txn:
            by_transaction[txn] = payment
        by_reference[public_id] = by_reference[str(ref)] = payment
        by_external.setdefault(external, []).append(payment)
    for line in lines:
        reference = _uuid(line.reference)
        found = (
            by_transaction.get(line.transaction_id)
            or by_reference.get(line.reference)
            or (by_reference.get(str(reference)) if reference else None)
        )
        if found is None and len(by_external.get(line.external_id, [])) == 1:
            found = by_external[line.external_id][0]
        yield line, found


def _uuid(text: str) -> uuid.UUID | None:
    """Our provider_reference as an operator writes it: a UUID, or its 32 hex digits (Airtel)."""
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _kind(line: StatementLine, payment: _Ours) -> ItemKind:
    if line.status != payment.status:
        if (
            line.status == Status.SUCCESSFUL
            and payment.status == Status.FAILED
            and payment.failure_code == FailureCode.EXPIRED
            and payment.flow == Flow.COLLECTION
        ):
            return ItemKind.SETTLED_AFTER_EXPIRY
        return ItemKind.STATUS_DIFFERS
    if line.amount != payment.amount:
        return ItemKind.AMOUNT_DIFFERS
    return ItemKind.MATCHED


def _item_for(
    run: ReconciliationRun, line: StatementLine, payment: _Ours | None
) -> ReconciliationItem:
    item = ReconciliationItem(
        run=run,
        line_number=line.number,
        operator_transaction_id=line.transaction_id[:64],
        statement_amount=line.amount,
        statement_status=line.status,
        line=line.raw,
        kind=ItemKind.MISSING_HERE,
    )
    if payment is not None:
        item.kind = _kind(line, payment)
        item.payment_id, item.tenant_id = payment.pk, payment.tenant_id
        item.our_amount, item.our_status = payment.amount, payment.status
    return item


def _missing_there(
    run: ReconciliationRun, ours: Any, matched: set[int]
) -> Iterator[ReconciliationItem]:
    """Our successful payments completed in the statement's days that no line names."""
    start, end = reports.day_bounds(run.period_start, run.period_end)
    successful = ours.filter(
        status=Status.SUCCESSFUL, completed_at__gte=start, completed_at__lt=end
    ).values_list("pk", "tenant_id", "amount", "provider_transaction_id")
    for pk, tenant_id, amount, transaction_id in successful.iterator(chunk_size=CHUNK):
        if pk not in matched:
            yield ReconciliationItem(
                run=run,
                kind=ItemKind.MISSING_THERE,
                payment_id=pk,
                tenant_id=tenant_id,
                operator_transaction_id=transaction_id,
                our_amount=amount,
                our_status=Status.SUCCESSFUL,
            )


# --- resolution -----------------------------------------------------------------------------

# What each resolution may settle: a note explains anything; a re-check needs a payment still
# pending here; a late success only a collection settled after we expired it.
_ALLOWED = {
    Resolution.NOTED: set(ItemKind),
    Resolution.RECHECKED: {ItemKind.STATUS_DIFFERS, ItemKind.AMOUNT_DIFFERS},
    Resolution.LATE_SUCCESS: {ItemKind.SETTLED_AFTER_EXPIRY},
}


@transaction.atomic
def resolve_item(
    *, item: ReconciliationItem, resolution: Resolution, note: str, actor: audit.Actor
) -> ReconciliationItem:
    """Close an item with a note and what was done about it, audited. Raises
    ValidationFailed (field `resolution` or `note`) and changes nothing when the item is
    resolved already or the resolution does not fit it."""
    audit.require_permission(actor, RESOLVE_PERMISSION)
    note = note.strip()
    if not note:
        raise _invalid("note", "Say what was found and done.")
    locked = (
        ReconciliationItem.objects.select_for_update(of=("self",))
        .select_related("payment")
        .get(pk=item.pk)
    )
    if locked.resolution != Resolution.OPEN:
        raise _invalid("resolution", f"Already resolved ({locked.get_resolution_display()}).")
    if resolution not in _ALLOWED or locked.kind not in _ALLOWED[resolution]:
        raise _invalid(
            "resolution",
            f"{Resolution(resolution).label} does not settle “{locked.get_kind_display()}”.",
        )
    data: dict[str, Any] = {"kind": locked.kind, "resolution": resolution, "note": note}
    if resolution == Resolution.RECHECKED:
        data["queued"] = _recheck(locked)
    elif resolution == Resolution.LATE_SUCCESS:
        _credit_late_success(locked, actor=actor)
    locked.resolution, locked.note = resolution, note
    locked.resolved_by, locked.resolved_at = actor.label or actor.kind, timezone.now()
    locked.save(update_fields=["resolution", "note", "resolved_by", "resolved_at"])
    audit.record(
        actor=actor,
        action="reconciliation.item_resolved",
        target=locked,
        tenant=locked.payment.tenant if locked.payment else None,
        data={**data, "public_id": locked.payment.public_id if locked.payment else None},
    )
    return locked


def _recheck(item: ReconciliationItem) -> bool:
    payment = item.payment
    if payment is None or payment.status != Status.PENDING:
        raise _invalid(
            "resolution",
            "Only a payment still PENDING here can be re-checked; explain a final one.",
        )
    return payments.request_refresh(payment=payment)


def _credit_late_success(item: ReconciliationItem, *, actor: audit.Actor) -> None:
    """The merchant's balance gets the collection (minus its fee), and an event says so."""
    assert item.payment_id is not None  # noqa: S101  # a settled-after-expiry item has one
    payment = Payment.objects.select_for_update().get(pk=item.payment_id)
    ledger.post_late_collection(payment=payment, actor=actor)
    webhooks.record_late_settlement_event(
        payment,
        settled={
            "amount": f"{item.statement_amount:.2f}",
            "provider_transaction_id": item.operator_transaction_id or None,
            "credited": f"{payment.amount - payment.fee:.2f}",
        },
    )


# --- a payment checked by hand --------------------------------------------------------------


@transaction.atomic
def mark_payment_reconciled(
    *, payment: Payment, note: str, actor: audit.Actor
) -> PaymentReconciliation:
    """Ops' mark that a payment agrees with the operator, with a note; audited. A payment is
    marked once: marking it again raises ValidationFailed (field `note`)."""
    audit.require_permission(actor, MARK_PERMISSION)
    note = note.strip()
    if not note:
        raise _invalid("note", "Say how the payment was checked.")
    if PaymentReconciliation.objects.filter(payment=payment).exists():
        raise _invalid("note", f"{payment.public_id} is marked reconciled already.")
    mark = PaymentReconciliation.objects.create(
        payment=payment,
        tenant_id=payment.tenant_id,
        note=note,
        reconciled_by=actor.label or actor.kind,
    )
    audit.record(
        actor=actor,
        action="payment.reconciled",
        target=payment,
        tenant=payment.tenant,
        data={"public_id": payment.public_id, "note": note},
    )
    return mark
