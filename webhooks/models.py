from __future__ import annotations

from django.db import models


class CallbackOutcome(models.TextChoices):
    RECEIVED = "received", "Received"
    REFRESH_REQUESTED = "refresh_requested", "Refresh requested"
    ALREADY_FINAL = "already_final", "Already final (ignored)"
    UNKNOWN_TOKEN = "unknown_token", "Unknown token"
    BAD_SIGNATURE = "bad_signature", "Bad signature"
    MALFORMED = "malformed", "Malformed"


class InboundCallback(models.Model):
    """Every operator callback, stored raw before anything else looks at it.

    The callback is only a hint: the payment changes after the operator's status endpoint
    confirms it. This log is what ops read when an operator disputes what it sent.
    """

    provider = models.CharField(max_length=8)
    token = models.CharField(max_length=64, db_index=True)
    method = models.CharField(max_length=8)
    headers = models.JSONField(default=dict)
    body = models.TextField(blank=True)
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
