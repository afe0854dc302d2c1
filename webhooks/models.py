from __future__ import annotations

from django.db import models


class CallbackOutcome(models.TextChoices):
    RECEIVED = "received", "Received"
    REFRESH_REQUESTED = "refresh_requested", "Refresh requested"
    THROTTLED = "throttled", "Throttled (a status check was requested moments ago)"
    ALREADY_FINAL = "already_final", "Already final (ignored)"
    # No longer written: callbacks for unknown tokens are counted, not stored.
    UNKNOWN_TOKEN = "unknown_token", "Unknown token"
    BAD_SIGNATURE = "bad_signature", "Bad signature"
    MALFORMED = "malformed", "Malformed"
    TOO_LARGE = "too_large", "Too large (stored truncated)"


class InboundCallback(models.Model):
    """An operator callback for a known payment, stored raw before anything acts on it.

    The callback is only a hint: the payment changes after the operator's status endpoint
    confirms it. This log is what ops read when an operator disputes what it sent. Callbacks
    for unknown tokens are never stored (webhooks.metrics counts them), at most
    CALLBACK_MAX_STORED_PER_PAYMENT rows are kept per payment, and rows are purged after
    CALLBACK_RETENTION_DAYS.
    """

    provider = models.CharField(max_length=8)
    token = models.CharField(max_length=64, db_index=True)
    method = models.CharField(max_length=8)
    headers = models.JSONField(default=dict)
    # The first CALLBACK_MAX_BODY_BYTES bytes as text PostgreSQL accepts: invalid UTF-8 as
    # \xNN, NUL as \x00. `body_sha256` and `body_size` identify the exact bytes received.
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)
    body_sha256 = models.CharField(max_length=64, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    signature_valid = models.BooleanField(null=True)
    claimed_status = models.CharField(max_length=16, blank=True)
    outcome = models.CharField(
        max_length=20, choices=CallbackOutcome.choices, default=CallbackOutcome.RECEIVED
    )
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inbound_callbacks",
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["provider", "-received_at"], name="callback_recent_idx")]

    def __str__(self) -> str:
        return f"{self.provider} callback {self.outcome}"


# Outbound merchant webhooks live in their own module of this app (webhooks.outbound).
from webhooks.outbound.models import (  # noqa: E402, F401
    DeadDelivery,
    Delivery,
    DeliveryState,
    Event,
    EventType,
    WebhookEndpoint,
)
