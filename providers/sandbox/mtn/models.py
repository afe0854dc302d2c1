"""The MTN simulator's own state (tables `sandbox_mtn…`), apart from the gateway's.

Everything a later request or another process needs lives here, so the simulator answers the
same after a restart and from any gunicorn worker. A request's status is not stored as it
moves: it is computed from the stored plan (`outcome_at`, `final_status`) and the clock.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q


class MtnProduct(models.TextChoices):
    """MTN's three products: each has its own subscription key, token endpoint and account."""

    COLLECTION = "collection"
    DISBURSEMENT = "disbursement"
    REMITTANCE = "remittance"


class MtnKind(models.TextChoices):
    """A kind of money-moving resource; each has its own reference-id namespace at MTN."""

    REQUEST_TO_PAY = "requesttopay", "Request to pay"
    TRANSFER = "transfer", "Transfer"
    DEPOSIT = "deposit", "Deposit"
    REFUND = "refund", "Refund"
    REQUEST_TO_WITHDRAW = "requesttowithdraw", "Request to withdraw"
    PREAPPROVAL = "preapproval", "Pre-approval"
    INVOICE = "invoice", "Invoice"
    PAYMENT = "payment", "Payment (v2)"
    CASH_TRANSFER = "cashtransfer", "Cash transfer"


class MtnStatus(models.TextChoices):
    CREATED = "CREATED"  # seen on MTN's sandbox for its "Delayed" number, never resolves
    PENDING = "PENDING"
    SUCCESSFUL = "SUCCESSFUL"
    FAILED = "FAILED"


class MtnApiUser(models.Model):
    """An API user made through the sandbox provisioning API (pre-provisioned ones are settings)."""

    id = models.UUIDField(primary_key=True)
    provider_callback_host = models.CharField(max_length=255)
    # Only a hash: the key is shown once, in the answer that creates it.
    api_key_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "MTN API user"

    def __str__(self) -> str:
        return str(self.id)


class MtnAccessToken(models.Model):
    """A bearer token issued by `/{product}/token/`, valid only for that product; or, with a
    `subject`, a consent token from `/{product}/oauth2/token/`, valid only for userinfo."""

    token_hash = models.CharField(max_length=64, unique=True)
    api_user_id = models.UUIDField(db_index=True)
    product = models.CharField(max_length=16, choices=MtnProduct.choices)
    # The MSISDN whose holder consented (CIBA); empty for a product token.
    subject = models.CharField(max_length=32, blank=True)
    scope = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "MTN access token"

    def __str__(self) -> str:
        return f"{self.product} token of {self.api_user_id}"


class MtnTransaction(models.Model):
    """One accepted money-moving POST (request to pay, transfer, deposit or refund)."""

    product = models.CharField(max_length=16, choices=MtnProduct.choices)
    kind = models.CharField(max_length=24, choices=MtnKind.choices)
    # The API version of the path it came in on (v1_0, v2_0): the callback's method follows it.
    version = models.CharField(max_length=8, default="v1_0")
    reference_id = models.UUIDField()  # the caller's X-Reference-Id
    api_user_id = models.UUIDField(db_index=True)
    target_environment = models.CharField(max_length=32)
    # A pre-approval moves no money, so it has no amount.
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3)
    external_id = models.TextField(blank=True)
    # The payer of a request to pay or deposit, the payee of a transfer or refund; a refund
    # of an unknown original has none.
    party_id_type = models.CharField(max_length=16, blank=True)
    party_id = models.CharField(max_length=255, blank=True)
    payer_message = models.CharField(max_length=160, blank=True)
    payee_note = models.CharField(max_length=160, blank=True)
    reference_id_to_refund = models.CharField(max_length=64, blank=True)
    callback_url = models.TextField(blank=True)
    # What a kind adds to the common fields (an invoice's description, a pre-approval's
    # validity, a cash transfer's payer details...), echoed back by its status GET.
    details = models.JSONField(default=dict, blank=True)
    # Delivery notifications sent for a request to pay: [{message, language, created_at}].
    notifications = models.JSONField(default=list, blank=True)
    # The plan, fixed when the request is accepted (scenarios.py): which scenario, what the
    # status is before `outcome_at` and after it (never resolves when `outcome_at` is null).
    scenario = models.CharField(max_length=64)
    pending_status = models.CharField(max_length=16, choices=MtnStatus.choices)
    final_status = models.CharField(max_length=16, choices=MtnStatus.choices, blank=True)
    reason = models.CharField(max_length=64, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)
    # Fault injection: what the callback claims when it is not the truth the GET tells.
    callback_status = models.CharField(max_length=16, choices=MtnStatus.choices, blank=True)
    financial_transaction_id = models.CharField(max_length=16)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "MTN transaction"
        ordering = ["-created_at", "-id"]
        constraints = [
            # Concurrent POSTs with one X-Reference-Id: exactly one row, the others get 409.
            # Each product and resource has its own reference-id namespace at MTN.
            models.UniqueConstraint(
                fields=["reference_id", "product", "kind"],
                name="sandbox_mtn_transaction_reference_uniq",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gt=0),
                name="sandbox_mtn_transaction_amount_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference_id}"

    def status_at(self, now: datetime) -> MtnStatus:
        if self.outcome_at is None or now < self.outcome_at:
            return MtnStatus(self.pending_status)
        return MtnStatus(self.final_status)


class MtnRejectedAttempt(models.Model):
    """A first attempt answered 500 on purpose (and not stored), so its retry is accepted."""

    kind = models.CharField(max_length=24, choices=MtnKind.choices)
    reference_id = models.UUIDField()
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "MTN rejected first attempt"
        constraints = [
            models.UniqueConstraint(
                fields=["reference_id", "kind"], name="sandbox_mtn_rejected_attempt_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference_id}"


class MtnCallbackAttempt(models.Model):
    """One callback delivery attempt, answered or not."""

    transaction = models.ForeignKey(
        MtnTransaction, on_delete=models.CASCADE, related_name="callback_attempts"
    )
    # Which try of this callback (1 is the first); failures are retried on a schedule.
    attempt = models.PositiveSmallIntegerField(default=1)
    method = models.CharField(max_length=8, default="POST")
    url = models.TextField()
    body = models.JSONField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "MTN callback attempt"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"callback for {self.transaction_id}: {self.status_code or self.error}"


class MtnConsent(models.Model):
    """A CIBA consent request (`/{product}/v1_0/bc-authorize`), redeemed once for a token."""

    auth_req_id = models.UUIDField(unique=True)
    api_user_id = models.UUIDField(db_index=True)
    product = models.CharField(max_length=16, choices=MtnProduct.choices)
    target_environment = models.CharField(max_length=32)
    msisdn = models.CharField(max_length=32)
    scope = models.CharField(max_length=255)
    access_type = models.CharField(max_length=8)
    callback_url = models.TextField(blank=True)
    # The holder's answer and when it is given (the sandbox answers for the holder).
    approved = models.BooleanField()
    decided_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "MTN consent request"

    def __str__(self) -> str:
        return f"consent {self.auth_req_id}"
