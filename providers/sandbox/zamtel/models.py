"""The Zamtel simulator's own state (tables `sandbox_zamtel…`), apart from the gateway's.

As for MTN and Airtel, a transaction's status is computed from its stored plan and the clock,
so every process (and a restart) answers alike.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models


class ZamtelKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit (collection)"
    PAYOUT = "payout", "Payout"
    REFUND = "refund", "Refund"


class ZamtelStatus(models.TextChoices):
    ACCEPTED = "ACCEPTED", "Accepted"
    PROCESSING = "PROCESSING", "Processing"
    COMPLETED = "COMPLETED", "Completed"
    FAILED = "FAILED", "Failed"


class ZamtelTransaction(models.Model):
    kind = models.CharField(max_length=8, choices=ZamtelKind.choices)
    transaction_id = models.CharField(max_length=36)  # the caller's depositId / payoutId / …
    account = models.CharField(max_length=16, db_index=True)  # whose token sent it
    msisdn = models.CharField(max_length=16, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="ZMW")
    client_reference = models.CharField(max_length=64, blank=True)
    deposit_id = models.CharField(max_length=36, blank=True)  # a refund's original deposit
    callback_url = models.TextField(blank=True)
    scenario = models.CharField(max_length=64)
    final_status = models.CharField(max_length=12, choices=ZamtelStatus.choices, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    callback_status = models.CharField(max_length=12, choices=ZamtelStatus.choices, blank=True)
    provider_transaction_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "sandbox_zamtel_transaction"
        verbose_name = "Zamtel transaction"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transaction_id", "kind"], name="sandbox_zamtel_transaction_id_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.transaction_id}"

    def status_at(self, now: datetime) -> ZamtelStatus:
        if self.outcome_at is None or now < self.outcome_at:
            return ZamtelStatus.ACCEPTED
        return ZamtelStatus(self.final_status)


class ZamtelRejectedAttempt(models.Model):
    """A first attempt answered 500 on purpose (not stored), so that its retry is accepted."""

    kind = models.CharField(max_length=8, choices=ZamtelKind.choices)
    transaction_id = models.CharField(max_length=36)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_zamtel_rejectedattempt"
        constraints = [
            models.UniqueConstraint(
                fields=["transaction_id", "kind"], name="sandbox_zamtel_rejected_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.transaction_id}"


class ZamtelCallbackAttempt(models.Model):
    transaction = models.ForeignKey(
        ZamtelTransaction, on_delete=models.CASCADE, related_name="callback_attempts"
    )
    url = models.TextField()
    body = models.JSONField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "sandbox_zamtel_callbackattempt"
        verbose_name = "Zamtel callback attempt"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"callback for {self.transaction_id}: {self.status_code or self.error}"
