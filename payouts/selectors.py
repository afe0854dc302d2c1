"""Reads for payout batches; every one starts from the caller's tenant and mode."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from payouts import errors
from payouts.models import PayoutBatch, PayoutBatchItem
from tenants.models import Tenant

REJECTED = "REJECTED"  # an item whose external_id was already used: no payout was made


def get_batch(*, tenant: Tenant, mode: str, public_id: str) -> PayoutBatch:
    batch = PayoutBatch.objects.for_tenant(tenant, mode).filter(public_id=public_id).first()
    if batch is None:
        raise errors.PayoutBatchNotFound(f"No payout batch {public_id} in {mode} mode.")
    return batch


def list_items(*, batch: PayoutBatch) -> QuerySet[PayoutBatchItem]:
    return PayoutBatchItem.objects.filter(batch=batch).select_related("payment")


def get_totals(*, batch: PayoutBatch) -> dict[str, dict[str, Any]]:
    """Count and amount of the batch's items by status (PENDING, SUCCESSFUL, FAILED, and
    REJECTED for items that made no payout), every status present: one grouped query."""
    totals: dict[str, dict[str, Any]] = {
        status: {"count": 0, "amount": Decimal("0.00")}
        for status in ("PENDING", "SUCCESSFUL", "FAILED", REJECTED)
    }
    rows = (
        PayoutBatchItem.objects.filter(batch=batch)
        .values(state=Coalesce("payment__status", Value(REJECTED)))
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    for row in rows:
        totals[row["state"]] = {"count": row["count"], "amount": row["amount"]}
    return totals
