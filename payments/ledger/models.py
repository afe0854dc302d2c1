"""The ledger: accounts and immutable entries, double-entry, in the shape of TigerBeetle's.

Every movement of money is one Entry from a debit account to a credit account, so every
posting sums to zero by construction. Money leaving (payouts, refunds) moves in two phases: a
PENDING entry reserves it when the payment is created, and exactly one POST or VOID entry
resolves it at the payment's final status. Entries are never updated or deleted (a database
trigger refuses it); a mistake is undone by a correcting entry.

Only merchant accounts keep running totals, because only they have a limit (available never
below zero, checked and reserved in one conditional UPDATE). The gateway's own accounts (the
operators' floats, fees, equity) are summed from their entries: every transition of every
tenant touches them, and a running total there would be one hot row all of them queue on.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from payments.models import Flow
from providers.base import Provider
from tenants.models import Mode, TenantScopedQuerySet

ZERO = Decimal("0.00")


class AccountKind(models.TextChoices):
    MERCHANT = "merchant", "Merchant balance"  # what the gateway owes a tenant
    OPERATOR_FLOAT = "float", "Operator float"  # what an operator holds for the gateway
    FEES = "fees", "Fees earned"
    EQUITY = "equity", "Equity (top-ups, settlements)"  # money in or out outside the floats


class Account(models.Model):
    kind = models.CharField(max_length=8, choices=AccountKind.choices)
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    provider = models.CharField(max_length=8, choices=Provider.choices, blank=True)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    currency = models.CharField(max_length=3)
    # Running totals, merchant accounts only (see the module docstring).
    debits_pending = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO)
    debits_posted = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO)
    credits_posted = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet["Account"].as_manager()

    class Meta:
        db_table = "ledger_account"
        # Finance's manual credits and debits (the admin's adjustment form).
        permissions = [("adjust_balance", "Can credit or debit a merchant balance")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "tenant", "provider", "mode", "currency"],
                name="ledger_account_uniq",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=(Q(kind=AccountKind.MERCHANT) & Q(tenant__isnull=False))
                | (~Q(kind=AccountKind.MERCHANT) & Q(tenant__isnull=True)),
                name="ledger_account_tenant_iff_merchant",
            ),
            models.CheckConstraint(
                condition=Q(kind=AccountKind.OPERATOR_FLOAT, provider__gt="")
                | (~Q(kind=AccountKind.OPERATOR_FLOAT) & Q(provider="")),
                name="ledger_account_provider_iff_float",
            ),
            models.CheckConstraint(
                condition=Q(debits_pending__gte=0, debits_posted__gte=0, credits_posted__gte=0),
                name="ledger_account_totals_non_negative",
            ),
            # The second guard behind the conditional UPDATE: a merchant's available balance
            # (credits posted - debits posted - debits pending) never goes below zero.
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.MERCHANT)
                | Q(credits_posted__gte=F("debits_posted") + F("debits_pending")),
                name="ledger_merchant_never_below_zero",
            ),
        ]

    def __str__(self) -> str:
        owner = self.tenant_id or self.provider or "gateway"
        return f"{self.get_kind_display()} {owner} {self.mode} {self.currency}"

    @property
    def available(self) -> Decimal:
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def reserved(self) -> Decimal:
        return self.debits_pending


class EntryPhase(models.TextChoices):
    POSTED = "posted", "Posted"  # single-phase: final at once
    PENDING = "pending", "Pending"  # reserves money until resolved
    POST_PENDING = "post", "Post pending"  # resolves a pending entry: the money moves
    VOID_PENDING = "void", "Void pending"  # resolves a pending entry: the reservation returns


class EntryKind(models.TextChoices):
    COLLECTION = "collection", "Collection"
    PAYOUT = "payout", "Payout"
    REFUND = "refund", "Refund"
    FEE = "fee", "Fee"
    TOP_UP = "top_up", "Top-up"
    ADJUSTMENT = "adjustment", "Manual adjustment"


# What a payment of each flow moves.
FLOW_KIND = {
    Flow.COLLECTION: EntryKind.COLLECTION,
    Flow.DISBURSEMENT: EntryKind.PAYOUT,
    Flow.REFUND: EntryKind.REFUND,
}


class Entry(models.Model):
    debit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    credit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    phase = models.CharField(max_length=8, choices=EntryPhase.choices)
    # The pending entry a POST or VOID resolves; each is resolved at most once.
    pending = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="resolution"
    )
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    # Makes postings idempotent: a retried transition can never post twice.
    code = models.CharField(max_length=24)
    # The merchant account's balances just after this entry, for the balance-transactions
    # list (empty when the entry touches no merchant account).
    available_after = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    reserved_after = models.DecimalField(max_digits=16, decimal_places=2, null=True)
    description = models.CharField(max_length=255, blank=True)
    actor_label = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ledger_entry"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_entry_amount_positive"),
            models.CheckConstraint(
                condition=~Q(debit_account=F("credit_account")), name="ledger_entry_two_accounts"
            ),
            models.CheckConstraint(
                condition=(
                    Q(phase__in=[EntryPhase.POST_PENDING, EntryPhase.VOID_PENDING])
                    & Q(pending__isnull=False)
                )
                | (Q(phase__in=[EntryPhase.POSTED, EntryPhase.PENDING]) & Q(pending__isnull=True)),
                name="ledger_entry_resolution_names_pending",
            ),
            models.UniqueConstraint(
                fields=["payment", "code"],
                condition=Q(payment__isnull=False),
                name="ledger_entry_once_per_payment",
            ),
        ]
        indexes = [
            models.Index(fields=["debit_account", "-created_at", "-id"], name="ledger_debit_idx"),
            models.Index(fields=["credit_account", "-created_at", "-id"], name="ledger_credit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.phase} {self.amount} {self.currency}"


class FeeSchedule(models.Model):
    """A tenant's price for one operator and flow: percent of the amount plus a fixed part,
    at least `minimum`. Copied onto each payment at creation."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="fee_schedules"
    )
    provider = models.CharField(max_length=8, choices=Provider.choices)
    flow = models.CharField(max_length=12, choices=Flow.choices)
    percent = models.DecimalField(max_digits=5, decimal_places=3, default=ZERO)
    fixed = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    minimum = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ledger_fee_schedule"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "flow"], name="fee_schedule_uniq"
            ),
            models.CheckConstraint(
                condition=Q(percent__gte=0, percent__lt=100, fixed__gte=0, minimum__gte=0),
                name="fee_schedule_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.percent}% + {self.fixed} (min {self.minimum})"
