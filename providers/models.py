"""How tenants use the operators, and what ops say about the operators' health.

- `OperatorConfig`: one tenant's use of one operator in one mode (enabled, fallback, limits
  per operation). No row means the defaults: enabled, no fallback, no limits.
- `DailyUsage`: what a tenant has spent against a daily cap, one row per operator, operation
  and Lusaka day. Only payments whose operation has a cap touch it.
- `AvailabilityOverride`: ops' word on an operator's availability, which wins over what the
  gateway computes until it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from providers.base import Provider
from tenants.models import Mode

# The operations a tenant can limit, named like the payment flows they are.
OPERATIONS = ("collection", "disbursement", "refund")


class Availability(models.TextChoices):
    OPERATIONAL = "OPERATIONAL", "Operational"
    DELAYED = "DELAYED", "Delayed"
    CLOSED = "CLOSED", "Closed"


@dataclass(frozen=True)
class Limits:
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    daily_cap: Decimal | None = None


def _amount(help_text: str) -> models.DecimalField[Decimal | None, Decimal | None]:
    return models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, help_text=help_text
    )


_MIN = "The smallest amount of one payment (ZMW); empty: none"
_MAX = "The largest amount of one payment (ZMW); empty: none"
_CAP = "What a Lusaka day's payments may add up to (ZMW; failed ones do not count); empty: none"


def _limit_constraints(operation: str) -> list[models.BaseConstraint]:
    low, high, cap = f"{operation}_min", f"{operation}_max", f"{operation}_daily_cap"
    return [
        models.CheckConstraint(
            condition=(Q(**{f"{low}__isnull": True}) | Q(**{f"{low}__gt": 0}))
            & (Q(**{f"{high}__isnull": True}) | Q(**{f"{high}__gt": 0}))
            & (Q(**{f"{cap}__isnull": True}) | Q(**{f"{cap}__gt": 0})),
            name=f"operator_config_{operation}_positive",
        ),
        models.CheckConstraint(
            condition=Q(**{f"{low}__isnull": True})
            | Q(**{f"{high}__isnull": True})
            | Q(**{f"{low}__lte": F(high)}),
            name=f"operator_config_{operation}_min_le_max",
        ),
    ]


class OperatorConfig(models.Model):
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="operator_configs"
    )
    mode = models.CharField(max_length=4, choices=Mode.choices)
    provider = models.CharField(max_length=8, choices=Provider.choices)
    enabled = models.BooleanField(
        default=True, help_text="Off: new collections and payouts to it are refused."
    )
    allow_fallback = models.BooleanField(
        default=False,
        help_text="When this operator, predicted from a number's prefix, says the number is "
        "not registered, ask the tenant's other enabled operators before sending anything.",
    )
    collection_min = _amount(_MIN)
    collection_max = _amount(_MAX)
    collection_daily_cap = _amount(_CAP)
    disbursement_min = _amount(_MIN)
    disbursement_max = _amount(_MAX)
    disbursement_daily_cap = _amount(_CAP)
    refund_min = _amount(_MIN)
    refund_max = _amount(_MAX)
    refund_daily_cap = _amount(_CAP)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "operator configuration"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "mode", "provider"], name="operator_config_uniq"
            ),
            *_limit_constraints("collection"),
            *_limit_constraints("disbursement"),
            *_limit_constraints("refund"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.mode} {self.provider}"

    def limits(self, operation: str) -> Limits:
        return Limits(
            min_amount=getattr(self, f"{operation}_min"),
            max_amount=getattr(self, f"{operation}_max"),
            daily_cap=getattr(self, f"{operation}_daily_cap"),
        )


class DailyUsage(models.Model):
    """Written by one `INSERT … ON CONFLICT DO UPDATE … WHERE total + amount <= cap`: the row
    lock makes concurrent creates take turns, so a cap is never exceeded."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    provider = models.CharField(max_length=8, choices=Provider.choices)
    operation = models.CharField(max_length=12)
    day = models.DateField()
    total = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "mode", "provider", "operation", "day"],
                name="daily_usage_uniq",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="daily_usage_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.operation} {self.day}: {self.total}"


class AvailabilityOverride(models.Model):
    """Created and ended through providers.availability (audited), never edited."""

    provider = models.CharField(max_length=8, choices=Provider.choices)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    operation = models.CharField(
        max_length=12,
        blank=True,
        choices=[(operation, operation) for operation in OPERATIONS],
        help_text="Empty: every operation.",
    )
    state = models.CharField(max_length=12, choices=Availability.choices)
    reason = models.CharField(max_length=255)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: until ended by hand."
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""), name="availability_override_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["provider", "mode", "-created_at"], name="availability_ovr_idx")
        ]

    def __str__(self) -> str:
        scope = self.operation or "all"
        return f"{self.provider} {self.mode} {scope}: {self.state}"
