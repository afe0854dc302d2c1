"""Payout batches: many payouts in one request. Each item becomes a normal payout (a
`payments.Payment` with flow disbursement); the batch is its manifest, in the order sent."""

from __future__ import annotations

import secrets
import string

from django.db import models
from django.db.models import Q

from tenants.models import Mode, TenantScopedQuerySet

_ALPHABET = string.ascii_letters + string.digits
MAX_ITEMS = 1000


def new_public_id() -> str:
    """`pob_` and 24 base62 characters, like a payment's id."""
    return "pob_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


class Source(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "Admin (CSV upload)"


class PayoutBatchQuerySet(TenantScopedQuerySet["PayoutBatch"]):
    pass


class PayoutBatch(models.Model):
    public_id = models.CharField(max_length=28, unique=True, default=new_public_id, editable=False)
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="payout_batches"
    )
    mode = models.CharField(max_length=4, choices=Mode.choices)
    currency = models.CharField(max_length=3, default="ZMW")
    item_count = models.PositiveIntegerField()
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a cancel was asked for (its queued items were cancelled then).
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = PayoutBatchQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "payout batches"
        permissions = [
            ("upload_payout_batch", "Can upload a payout batch (CSV) for a tenant"),
            ("cancel_payout_batch", "Can cancel a payout batch's queued payouts"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(item_count__gte=1, item_count__lte=MAX_ITEMS),
                name="payout_batch_item_count_range",
            ),
            models.CheckConstraint(
                condition=Q(mode__in=Mode.values), name="payout_batch_mode_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "mode", "-created_at"], name="payout_batch_list_idx")
        ]

    def __str__(self) -> str:
        return self.public_id


class PayoutBatchItem(models.Model):
    """One line of a batch: its payout, or why there is none (its external_id was taken)."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="items")
    index = models.PositiveIntegerField()  # its position in the request, from 0
    external_id = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    msisdn = models.CharField(max_length=15)  # E.164 digits, as the payout has it
    payment = models.OneToOneField(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payout_batch_item",
    )
    # The payment that already used this external_id (the item made none).
    duplicate_of = models.CharField(max_length=28, blank=True)

    class Meta:
        ordering = ["batch", "index"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="payout_item_index_uniq"),
            models.UniqueConstraint(
                fields=["batch", "external_id"], name="payout_item_external_id_uniq"
            ),
            # Each item is either a payout or a reported duplicate, never both or neither.
            models.CheckConstraint(
                condition=Q(payment__isnull=False, duplicate_of="")
                | Q(payment__isnull=True) & ~Q(duplicate_of=""),
                name="payout_item_payment_xor_duplicate",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.index}"
