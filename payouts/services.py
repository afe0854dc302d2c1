"""Writes for payout batches. Every item is a normal payout, made by
payments.services.create_payouts under the same rules as a single one; this module adds the
batch (its manifest of items) and turns a refused item into a pointer at it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit import services as audit
from gateway.errors import ValidationFailed
from payments import services as payments
from payments.errors import PaymentNotCancellable
from payments.models import Payment, Status
from payouts import errors
from payouts.models import PayoutBatch, PayoutBatchItem, Source
from providers.base import Provider
from tenants.models import Mode, Tenant

UPLOAD_PERMISSION = "payouts.upload_payout_batch"  # what a staff user needs (admin CSV upload)
CANCEL_PERMISSION = "payouts.cancel_payout_batch"


@dataclass(frozen=True)
class BatchItem:
    amount: Decimal
    msisdn: str  # E.164 digits
    external_id: str
    provider: Provider | None = None
    description: str = ""
    metadata: dict[str, Any] | None = None


def pointer(field: str) -> str:
    """The JSON pointer (RFC 6901) of a dotted field path: items.17.msisdn -> /items/17/msisdn."""
    if field == "non_field_errors":
        return ""
    return "/" + "/".join(
        part.replace("~", "~0").replace("/", "~1")
        for part in field.split(".")
        if part != "non_field_errors"
    )


def with_pointers(field_errors: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**error, "pointer": pointer(error["field"])} for error in field_errors]


@transaction.atomic  # may nest in the idempotency middleware's transaction
def create_payout_batch(
    *,
    tenant: Tenant,
    mode: Mode,
    currency: str,
    items: Sequence[BatchItem],
    actor: audit.Actor,
    source: Source = Source.API,
) -> PayoutBatch:
    """A batch and a payout per item, all or nothing.

    Raises ValidationFailed naming every refused item by its pointer (`/items/17/msisdn`),
    InsufficientBalance when the balance does not cover every payout and its fee together, and
    DailyCapExceeded when an operator's total passes its cap: then nothing is written. An item
    whose external_id is already used makes no payout; the batch reports it (`duplicate_of`).
    """
    audit.require_permission(actor, UPLOAD_PERMISSION)  # staff only: keys act for themselves
    batch = PayoutBatch.objects.create(
        tenant=tenant, mode=mode, currency=currency, item_count=len(items), source=source
    )
    try:
        made = payments.create_payouts(
            tenant=tenant,
            mode=mode,
            currency=currency,
            payouts=[
                payments.NewPayout(
                    amount=item.amount,
                    msisdn=item.msisdn,
                    external_id=item.external_id,
                    provider=item.provider,
                    description=item.description,
                    metadata=item.metadata,
                )
                for item in items
            ],
            actor=actor,
        )
    except payments.PayoutsRefused as refused:
        raise ValidationFailed(
            f"{len(refused.refusals)} of {len(items)} items are refused; nothing was created.",
            errors=[
                error
                for index, refusal in refused.refusals
                for error in _item_errors(index, refusal)
            ],
        ) from None
    PayoutBatchItem.objects.bulk_create(
        PayoutBatchItem(
            batch=batch,
            index=index,
            external_id=item.external_id,
            amount=item.amount,
            msisdn=item.msisdn,
            payment=result if isinstance(result, Payment) else None,
            duplicate_of="" if isinstance(result, Payment) else result,
        )
        for index, (item, result) in enumerate(zip(items, made, strict=True))
    )
    audit.record(
        actor=actor,
        action="payout_batch.created",
        target=batch,
        tenant=tenant,
        data={
            "public_id": batch.public_id,
            "items": len(items),
            "payouts": sum(isinstance(result, Payment) for result in made),
            "source": source,
        },
    )
    return batch


def _item_errors(index: int, refusal: Exception) -> list[dict[str, str]]:
    """A refused item's errors, each naming the item's field by its pointer, with the code a
    single payment would have been refused with."""
    code = getattr(refusal, "code", "validation_error")
    field_errors = getattr(refusal, "errors", None) or [{"field": "", "message": str(refusal)}]
    return with_pointers(
        [
            {
                "field": ".".join(part for part in ("items", str(index), e["field"]) if part),
                "message": e["message"],
                "code": code,
            }
            for e in field_errors
        ]
    )


@transaction.atomic  # may nest in the idempotency middleware's transaction
def cancel_payout_batch(*, batch: PayoutBatch, actor: audit.Actor) -> int:
    """Cancel every payout of the batch still queued (payments.services.cancel_payment: FAILED
    `cancelled`, reservation released, never sent); returns how many. Raises
    PayoutBatchNotCancellable when none is queued any more."""
    audit.require_permission(actor, CANCEL_PERMISSION)
    locked = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
    queued = Payment.objects.filter(
        payout_batch_item__batch=locked,
        status=Status.PENDING,
        queued_at__isnull=False,
        submitted_at__isnull=True,
    ).order_by("pk")
    cancelled = 0
    for payment in queued:
        try:
            payments.cancel_payment(payment=payment, actor=actor)
        except PaymentNotCancellable:
            continue  # its operator recovered meanwhile and the payout left the queue
        cancelled += 1
    if not cancelled:
        raise errors.PayoutBatchNotCancellable(
            f"{locked.public_id} has no queued payouts: each is with its operator or final."
        )
    locked.cancelled_at = timezone.now()
    locked.save(update_fields=["cancelled_at"])
    audit.record(
        actor=actor,
        action="payout_batch.cancelled",
        target=locked,
        tenant=locked.tenant,
        data={"public_id": locked.public_id, "cancelled": cancelled},
    )
    return cancelled
