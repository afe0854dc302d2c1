from __future__ import annotations

from django.db import models


class ActorKind(models.TextChoices):
    API_KEY = "api_key", "API key"
    USER = "user", "Staff user"
    SYSTEM = "system", "System"
    PROVIDER = "provider", "Provider"


class AuditLog(models.Model):
    """One row per state change, written in the same transaction as the change.

    Append-only: a database trigger (migration 0002) rejects UPDATE and DELETE, so not even a
    bug or an admin can rewrite history.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_logs",
    )
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    # The id people know the target by: a payment's pay_…, a key's sk_test_…, a tenant's id
    # (audit.services.public_ref). Empty for targets without one; the admin shows target_id.
    target_ref = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # In Meta rather than `db_index=True`, which on PostgreSQL adds a LIKE index per column
        # that no query uses and every audit row (one per state change) would pay for.
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["action"], name="audit_action_idx"),
            models.Index(fields=["request_id"], name="audit_request_idx"),
            models.Index(fields=["target_ref"], name="audit_target_ref_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"
