from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Mode(models.TextChoices):
    TEST = "test", "Test"
    LIVE = "live", "Live"


class Tenant(models.Model):
    """A merchant. Everything a merchant can reach hangs off a tenant and a mode."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, unique=True)
    is_active = models.BooleanField(default=True)
    default_currency = models.CharField(max_length=3, default="ZMW")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("activate_tenant", "Can activate or deactivate a tenant"),
            ("manage_api_keys", "Can issue test API keys, rotate and revoke keys"),
            ("issue_live_key", "Can issue a live API key (with manage_api_keys)"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_currency__regex=r"^[A-Z]{3}$"),
                name="tenant_currency_iso4217",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StaffMembership(models.Model):
    """Limits a staff user to some tenants in the back-office: a user with memberships sees
    only those tenants' rows on every admin page; one without sees every tenant."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="staff_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "tenant"]
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="staff_membership_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.tenant}"


_Row = TypeVar("_Row", bound=models.Model)


class TenantScopedQuerySet(models.QuerySet[_Row]):
    """The one way API code reaches tenant data: another tenant's or mode's row is invisible."""

    def for_tenant(self, tenant: Tenant, mode: str) -> TenantScopedQuerySet[_Row]:
        return self.filter(tenant=tenant, mode=mode)


class KeyState(models.TextChoices):
    """Where a key is in its life, at a moment (tenants.selectors.with_key_state)."""

    ACTIVE = "active", "active"
    GRACE = "grace", "in grace"  # rotated (or given an end): works until expires_at
    REVOKED = "revoked", "revoked"
    EXPIRED = "expired", "expired"


class ApiKey(models.Model):
    """A hashed API key. The secret itself is shown once, at creation, and never stored."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="api_keys")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    name = models.CharField(max_length=80, default="default")
    # The first characters of the random part: an index to find the row, not a secret.
    prefix = models.CharField(max_length=16, unique=True)
    # SHA-256 (hex) of the whole key; the key has ~238 bits of entropy, so no salt is needed.
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScopedQuerySet["ApiKey"].as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="api_key_mode_valid"),
            models.CheckConstraint(
                condition=Q(secret_hash__regex=r"^[0-9a-f]{64}$"),  # noqa: S106  # a pattern, not a password
                name="api_key_hash_is_sha256",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display} ({self.name})"

    @property
    def display(self) -> str:
        """How a key is shown after creation: enough to recognise it, not to use it."""
        return f"sk_{self.mode}_{self.prefix}…"

    @property
    def audit_ref(self) -> str:
        """How the audit trail names a key: its display without the ellipsis."""
        return f"sk_{self.mode}_{self.prefix}"

    def is_revoked(self, at: datetime | None = None) -> bool:
        return self.revoked_at is not None and self.revoked_at <= (at or timezone.now())

    def is_expired(self, at: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (at or timezone.now())
