"""Payments and their provider timeline. What must never happen is a database constraint."""

from __future__ import annotations

import secrets
import string
import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from providers.base import FailureCode, Provider
from tenants.models import Mode, TenantScopedQuerySet

_ALPHABET = string.ascii_letters + string.digits


def new_public_id() -> str:
    """`pay_` and 24 base62 characters (~143 bits): opaque, unguessable, URL-safe."""
    return "pay_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def new_callback_token() -> str:
    """The unguessable path segment of this payment's operator callback URL."""
    return secrets.token_urlsafe(24)


class Flow(models.TextChoices):
    COLLECTION = "collection", "Collection"
    DISBURSEMENT = "disbursement", "Disbursement"
    REFUND = "refund", "Refund"


class Status(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUCCESSFUL = "SUCCESSFUL", "Successful"
    FAILED = "FAILED", "Failed"


FINAL_STATUSES = (Status.SUCCESSFUL, Status.FAILED)


class PaymentQuerySet(TenantScopedQuerySet["Payment"]):
    pass


class Payment(models.Model):
    # Unique by a constraint in Meta, not `unique=True`, which on PostgreSQL also builds a
    # `varchar_pattern_ops` index for LIKE that no query uses and every INSERT pays for.
    public_id = models.CharField(max_length=28, default=new_public_id, editable=False)
    # No index of its own: every query by tenant goes through the composite indexes below.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    mode = models.CharField(max_length=4, choices=Mode.choices)
    flow = models.CharField(max_length=12, choices=Flow.choices, default=Flow.COLLECTION)
    provider = models.CharField(max_length=8, choices=Provider.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    # The tenant's price at creation (payments.ledger.services.FEE_SQL), never recomputed.
    fee = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default="ZMW")
    msisdn = models.CharField(max_length=15)  # E.164 digits, no "+"
    external_id = models.CharField(max_length=64)
    description = models.CharField(max_length=160, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=32, choices=FailureCode.choices, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    # Our X-Reference-Id at the operator: fixed at creation, reused by every retry, so one
    # payment is at most one operator request whatever crashes or retries in between.
    provider_reference = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    provider_transaction_id = models.CharField(max_length=64, blank=True)
    refund_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds",
        db_index=False,  # a partial index in Meta: only refunds have one
    )
    callback_token = models.CharField(max_length=48, default=new_callback_token, editable=False)
    # When the request was last sent and the operator took it (or may have: outcome unknown):
    # the first send, or a resend of one it never had. Operators' enquiry lags count from it.
    submitted_at = models.DateTimeField(null=True, blank=True)
    submit_attempts = models.PositiveIntegerField(default=0)
    # The intent log of an operation its operator cannot be asked about (an Airtel refund):
    # committed just before the request is sent, cleared when the operator proves it never
    # arrived (a retryable refusal), superseded by `submitted_at` or a final status. Found set
    # with neither, an earlier attempt died mid-call (SIGKILL, a database outage): the money
    # may have moved and a resend is not recognisable, so the payment goes to manual review.
    send_started_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    # Held while one process talks to the operator about this payment (submit or refresh),
    # so that pollers, callbacks and ops never ask twice at once. A lease, not a row lock:
    # no transaction stays open during the HTTP call, and a crashed holder's lease lapses.
    busy_until = models.DateTimeField(null=True, blank=True)
    # Who holds the lease: a job attempt (`job_<id>_<attempt>`) or a request id. A retried job
    # takes over the lease of its own earlier, dead attempt instead of waiting for it to lapse.
    lease_holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    # Set when no answer from the operator can settle the payment any more: its outcome is
    # unknown and the operator has no status enquiry for it (an Airtel refund). Expiry never
    # fails such a payment (the money may have moved); ops resolve it (resolve_review).
    review_flagged_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.CharField(max_length=255, blank=True)
    # How the operator was chosen: {"predicted", "chosen", "reason"} (payments.routing).
    routing = models.JSONField(default=dict, blank=True)
    # Accepted while its operator was CLOSED: held back, not sent, until the operator recovers
    # (or the merchant cancels it). Cleared by the one conditional UPDATE that releases it.
    queued_at = models.DateTimeField(null=True, blank=True)
    # The Lusaka day whose daily cap this payment counts against; None when no cap applied.
    cap_day = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("resolve_review", "Can settle a payment under manual review"),
            ("recheck_payment", "Can ask the operator for a payment's status again"),
            ("view_payment_secrets", "Can see a payment's callback token"),
            ("resolve_payment", "Can settle a stuck payment by hand, with a reason"),
            ("refund_payment", "Can refund a collection from the back-office"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["public_id"], name="payment_public_id_uniq"),
            models.UniqueConstraint(fields=["callback_token"], name="payment_callback_token_uniq"),
            models.UniqueConstraint(
                fields=["tenant", "mode", "external_id"], name="payment_external_id_uniq"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="payment_fee_non_negative"),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payment_currency_iso4217"
            ),
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="payment_mode_valid"),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="payment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(msisdn__regex=r"^260[0-9]{9}$"), name="payment_msisdn_e164"
            ),
            # A refund names what it refunds; nothing else does.
            models.CheckConstraint(
                condition=Q(flow=Flow.REFUND, refund_of__isnull=False)
                | (~Q(flow=Flow.REFUND) & Q(refund_of__isnull=True)),
                name="payment_refund_of_only_on_refunds",
            ),
            # completed_at is set exactly when the status is final.
            models.CheckConstraint(
                condition=Q(status=Status.PENDING, completed_at__isnull=True)
                | (~Q(status=Status.PENDING) & Q(completed_at__isnull=False)),
                name="payment_completed_at_iff_final",
            ),
            # A failure code exactly when FAILED.
            models.CheckConstraint(
                condition=Q(status=Status.FAILED) & ~Q(failure_code="")
                | (~Q(status=Status.FAILED) & Q(failure_code="")),
                name="payment_failure_code_iff_failed",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "mode", "-created_at", "-id"], name="payment_list_idx"),
            models.Index(fields=["completed_at"], name="payment_completed_idx"),  # metrics
            models.Index(
                fields=["refund_of"],
                condition=Q(refund_of__isnull=False),
                name="payment_refunds_idx",
            ),
            # The back-office across tenants (bench/admin_scale.py): the newest first (with
            # what the home page and the daily summary group by, so their aggregates over
            # days are index-only scans), a status within dates, the searches (exact, each on
            # its own index so an OR of them is a BitmapOr), the stuck payments.
            models.Index(
                fields=["-created_at", "-id"],
                include=["tenant", "provider", "flow", "status", "mode", "amount"],
                name="payment_created_idx",
            ),
            models.Index(fields=["status", "-created_at", "-id"], name="payment_status_day_idx"),
            # A number has few payments: this one index serves the API's filter within a tenant
            # as well as the desk's search across tenants.
            models.Index(fields=["msisdn"], name="payment_msisdn_any_idx"),
            models.Index(fields=["external_id"], name="payment_external_id_idx"),
            models.Index(
                fields=["provider_transaction_id"],
                condition=~Q(provider_transaction_id=""),
                name="payment_operator_txn_idx",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(status=Status.PENDING),
                name="payment_stuck_idx",
            ),
            # The poller's query: due payments among the (few) pending ones.
            models.Index(
                fields=["next_poll_at"],
                condition=Q(status=Status.PENDING),
                name="payment_due_poll_idx",
            ),
            # The review queue (admin filter, metrics): the few payments waiting on ops.
            models.Index(
                fields=["review_flagged_at"],
                condition=Q(status=Status.PENDING, review_flagged_at__isnull=False),
                name="payment_review_queue_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def needs_review(self) -> bool:
        return self.status == Status.PENDING and self.review_flagged_at is not None

    @property
    def next_action(self) -> str | None:
        """What the payment waits for, when it is not the operator: "manual_review" (ops
        must settle it) or "queued" (held back until its operator recovers)."""
        if self.needs_review:
            return "manual_review"
        if self.queued_at is not None and not self.is_final:
            return "queued"
        return None

    @property
    def net(self) -> Decimal:
        """What the payment does to the merchant's balance once SUCCESSFUL."""
        if self.flow == Flow.COLLECTION:
            return self.amount - self.fee
        return -(self.amount + self.fee)


class Transaction(models.Model):
    """One call to the operator for a payment: the payment's timeline, secrets removed."""

    payment = models.ForeignKey(  # indexed by transaction_timeline_idx, which starts with it
        Payment, on_delete=models.PROTECT, related_name="provider_calls", db_index=False
    )
    # The operator called: the payment's, or another one asked about the number (fallback).
    provider = models.CharField(max_length=8, choices=Provider.choices, blank=True)
    mode = models.CharField(max_length=4, choices=Mode.choices, blank=True)
    operation = models.CharField(max_length=32)
    method = models.CharField(max_length=8)
    url = models.TextField()
    request_headers = models.JSONField(default=dict)
    request_body = models.JSONField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    # What the call meant: pending/successful/failed, or the error kind when it did not succeed.
    outcome = models.CharField(max_length=32)
    error = models.CharField(max_length=64, blank=True)
    duration_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["payment", "created_at"], name="transaction_timeline_idx"),
            # Availability: an operator's recent submissions (providers.availability).
            models.Index(
                fields=["provider", "mode", "operation", "created_at"],
                name="transaction_recent_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.status_code or self.error}"


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key and the response it got, replayed byte for byte on retries."""

    tenant = models.ForeignKey(  # indexed by the unique constraint, which starts with it
        "tenants.Tenant", on_delete=models.CASCADE, related_name="idempotency_keys", db_index=False
    )
    mode = models.CharField(max_length=4, choices=Mode.choices)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    # SHA-256 of the canonical request body (JSON with sorted keys, or the raw bytes).
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(
        max_length=12, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS
    )
    locked_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "mode", "key"], name="idempotency_key_uniq_per_tenant_mode"
            ),
            models.CheckConstraint(
                condition=Q(state="in_progress")
                | Q(state="completed", response_status__isnull=False),
                name="idempotency_completed_has_response",
            ),
        ]
        indexes = [
            # The purge's two queries: completed keys past their TTL, and abandoned in-progress
            # ones (a SIGKILLed request) past it.
            models.Index(fields=["expires_at"], name="idempotency_expires_idx")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


# The ledger's models live in their own module of this app (payments.ledger).
from payments.ledger.models import Account, Entry, FeeSchedule  # noqa: E402, F401
