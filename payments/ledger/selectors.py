"""Reads of the ledger: a merchant's balance and balance transactions (the API).

Merchant-facing reads start from the caller's merchant accounts, found by tenant and mode, so
another tenant's or mode's entries are unreachable whatever the filters say.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import (
    Case,
    DecimalField,
    F,
    Q,
    QuerySet,
    When,
)

from payments.ledger.models import ZERO, Account, AccountKind, Entry
from tenants.models import Mode, Tenant

# What a tenant without any account yet is shown (the only currency payments accept).
DEFAULT_CURRENCY = "ZMW"

_MONEY = DecimalField(max_digits=16, decimal_places=2)


# --- the merchant's view (API) --------------------------------------------------------------


def _merchant_accounts(*, tenant: Tenant, mode: Mode | str) -> QuerySet[Account]:
    return Account.objects.for_tenant(tenant, mode).filter(kind=AccountKind.MERCHANT)


def get_balance(*, tenant: Tenant, mode: Mode | str) -> dict[str, object]:
    """Available and reserved per currency, from the merchant accounts' running totals."""
    accounts = list(_merchant_accounts(tenant=tenant, mode=mode).order_by("currency"))
    if not accounts:
        zero = [{"currency": DEFAULT_CURRENCY, "amount": ZERO}]
        return {"mode": mode, "available": zero, "reserved": zero}
    return {
        "mode": mode,
        "available": [{"currency": a.currency, "amount": a.available} for a in accounts],
        "reserved": [{"currency": a.currency, "amount": a.reserved} for a in accounts],
    }


def _balance_transactions(*, tenant: Tenant, mode: Mode | str) -> QuerySet[Entry]:
    """Entries with the merchant account on either side, signed from the merchant's point of
    view: + when it is credited, - when it is debited."""
    account_ids = list(_merchant_accounts(tenant=tenant, mode=mode).values_list("pk", flat=True))
    if not account_ids:
        return Entry.objects.none()
    return (
        Entry.objects.filter(mode=mode)
        .filter(Q(debit_account_id__in=account_ids) | Q(credit_account_id__in=account_ids))
        .annotate(
            signed_amount=Case(
                When(credit_account_id__in=account_ids, then=F("amount")),
                default=-F("amount"),
                output_field=_MONEY,
            ),
            payment_public_id=F("payment__public_id"),
        )
    )


def list_balance_transactions(
    *,
    tenant: Tenant,
    mode: Mode | str,
    kind: str | None = None,
    payment_public_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Entry]:
    """Newest first. A payment id of another tenant or mode matches nothing: an empty list,
    like any other filter that matches nothing."""
    entries = _balance_transactions(tenant=tenant, mode=mode)
    if kind:
        entries = entries.filter(kind=kind)
    if payment_public_id:
        entries = entries.filter(payment__public_id=payment_public_id)
    if created_after is not None:
        entries = entries.filter(created_at__gte=created_after)
    if created_before is not None:
        entries = entries.filter(created_at__lt=created_before)
    return entries.order_by("-created_at", "-id")


def get_balance_transaction(*, tenant: Tenant, mode: Mode | str, entry_id: int) -> Entry:
    return _balance_transactions(tenant=tenant, mode=mode).get(pk=entry_id)
