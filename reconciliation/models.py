"""Reconciliation against operator statements: a run per imported statement, an item per
line (and per payment of ours the statement lacks), and ops' mark on a payment they checked.

Nothing here changes a payment: an item records what differs; its resolution goes through
payments' services (a re-check, the ledger) and the audit trail.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from payments.models import Status
from providers.base import Provider
from tenants.models import Mode, TenantScopedQuerySet


class ItemKind(models.TextChoices):
    MATCHED = "matched", "Matched"
    MISSING_HERE = "missing_here", "On the statement, not here"
    MISSING_THERE = "missing_there", "Successful here, not on the statement"
    AMOUNT_DIFFERS = "amount_differs", "Amount differs"
    STATUS_DIFFERS = "status_differs", "Status differs"
    # The operator took the customer's money after we had failed the collection as expired.
    SETTLED_AFTER_EXPIRY = "settled_after_expiry", "Settled after we expired it"


MISMATCHES = [kind for kind in ItemKind if kind is not ItemKind.MATCHED]


class Resolution(models.TextChoices):
    OPEN = "open", "Open"
    NOTED = "noted", "Explained (note only)"
    RECHECKED = "rechecked", "Re-check with the operator queued"
    LATE_SUCCESS = "late_success", "Late success credited, merchant notified"


class ReconciliationRun(models.Model):
    """One imported statement of one operator and mode, optionally for one tenant."""

    provider = models.CharField(max_length=8, choices=Provider.choices)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    # Set when the statement is one merchant's (--tenant): only its payments are compared.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    filename = models.CharField(max_length=255)
    # The Lusaka days the statement covers: our successful payments completed in them are
    # expected on it.
    period_start = models.DateField()
    period_end = models.DateField()
    lines = models.PositiveIntegerField(default=0)
    # Items per kind, e.g. {"matched": 120, "amount_differs": 1}.
    counts = models.JSONField(default=dict)
    imported_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedQuerySet["ReconciliationRun"].as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("import_statement", "Can import an operator statement"),
            ("resolve_item", "Can resolve a reconciliation item"),
            ("export_summary", "Can export the daily payments summary"),
            ("mark_reconciled", "Can mark a payment reconciled"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_start__lte=models.F("period_end")),
                name="reconciliation_run_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.mode} {self.period_start}…{self.period_end}"

    @property
    def mismatches(self) -> int:
        return sum(count for kind, count in self.counts.items() if kind != ItemKind.MATCHED)


class ReconciliationItem(models.Model):
    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=24, choices=ItemKind.choices)
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reconciliation_items",
    )
    # The payment's tenant (none for a line we cannot place): staff limited to some tenants
    # see only their items.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    line_number = models.PositiveIntegerField(null=True, blank=True)  # none: missing there
    operator_transaction_id = models.CharField(max_length=64, blank=True)
    statement_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    statement_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    our_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    our_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    line = models.JSONField(default=dict, blank=True)  # the statement's row, as read
    resolution = models.CharField(
        max_length=16, choices=Resolution.choices, default=Resolution.OPEN
    )
    note = models.TextField(blank=True)
    resolved_by = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "line_number", "id"]
        constraints = [
            # A resolution says who and why; an open item has neither.
            models.CheckConstraint(
                condition=Q(resolution=Resolution.OPEN, resolved_at__isnull=True)
                | (~Q(resolution=Resolution.OPEN) & Q(resolved_at__isnull=False) & ~Q(note="")),
                name="reconciliation_item_resolved_with_note",
            ),
            # A late success is credited at most once per payment, whichever run found it.
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(resolution="late_success"),
                name="reconciliation_late_success_once",
            ),
        ]
        indexes = [
            models.Index(fields=["run", "kind"], name="reconciliation_item_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (line {self.line_number or '—'})"


class PaymentReconciliation(models.Model):
    """Ops' mark that a payment was checked against the operator, with their note."""

    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, related_name="reconciliation"
    )
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+")
    note = models.TextField()
    reconciled_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(note=""), name="payment_reconciliation_note"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} reconciled"
