"""The Airtel simulator's own state (tables `sandbox_airtel…`), apart from the gateway's.

As for MTN, a transaction's status is computed from its stored plan and the clock, so every
process and a restart answer alike. The RSA key pair is stored so that every process signs
and verifies with the same key.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models


class AirtelKind(models.TextChoices):
    COLLECTION = "collection", "Collection (USSD push)"
    DISBURSEMENT = "disbursement", "Disbursement"
    REFUND = "refund", "Refund"


class AirtelStatus(models.TextChoices):
    TIP = "TIP", "In progress"
    TS = "TS", "Success"
    TF = "TF", "Failed"
    TE = "TE", "Expired"
    TA = "TA", "Ambiguous"


class AirtelKeyPair(models.Model):
    """The simulator's RSA key; its public half is published at /v1/rsa/encryption-keys."""

    key_id = models.CharField(max_length=32, unique=True)
    private_pem = models.TextField()
    public_der_b64 = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_airtel_keypair"
        verbose_name = "Airtel simulator key pair"

    def __str__(self) -> str:
        return self.key_id


class AirtelAccessToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=128, db_index=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_airtel_accesstoken"
        verbose_name = "Airtel access token"

    def __str__(self) -> str:
        return f"token of {self.client_id}"


class AirtelTransaction(models.Model):
    kind = models.CharField(max_length=16, choices=AirtelKind.choices)
    transaction_id = models.CharField(max_length=64)  # the caller's transaction.id
    client_id = models.CharField(max_length=128, db_index=True)
    msisdn = models.CharField(max_length=16, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="ZMW")
    reference = models.CharField(max_length=64, blank=True)
    refunded_money_id = models.CharField(max_length=64, blank=True)  # a refund's original
    signed = models.BooleanField(default=False)
    scenario = models.CharField(max_length=64)
    final_status = models.CharField(max_length=4, choices=AirtelStatus.choices, blank=True)
    response_code = models.CharField(max_length=16, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    callback_status = models.CharField(max_length=4, choices=AirtelStatus.choices, blank=True)
    airtel_money_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "sandbox_airtel_transaction"
        verbose_name = "Airtel transaction"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transaction_id", "kind"], name="sandbox_airtel_transaction_id_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.transaction_id}"

    def status_at(self, now: datetime) -> AirtelStatus:
        if self.outcome_at is None or now < self.outcome_at:
            return AirtelStatus.TIP
        return AirtelStatus(self.final_status)


class AirtelRejectedAttempt(models.Model):
    """A first attempt answered 500 on purpose (not stored), so that its retry is accepted."""

    kind = models.CharField(max_length=16, choices=AirtelKind.choices)
    transaction_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "sandbox_airtel_rejectedattempt"
        constraints = [
            models.UniqueConstraint(
                fields=["transaction_id", "kind"], name="sandbox_airtel_rejected_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.transaction_id}"


class AirtelCallbackAttempt(models.Model):
    transaction = models.ForeignKey(
        AirtelTransaction, on_delete=models.CASCADE, related_name="callback_attempts"
    )
    url = models.TextField()
    body = models.JSONField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "sandbox_airtel_callbackattempt"
        verbose_name = "Airtel callback attempt"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"callback for {self.transaction_id}: {self.status_code or self.error}"
