"""Reads of the ledger: a merchant's balance and balance transactions (the API), the gateway
accounts' balances summed from their entries and the operator floats beside what each operator
reports (the admin).

Merchant-facing reads start from the caller's merchant accounts, found by tenant and mode, so
another tenant's or mode's entries are unreachable whatever the filters say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import (
    Case,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from gateway.db import ensure_outside_transaction
from payments.ledger.models import ZERO, Account, AccountKind, Entry, EntryPhase
from providers import registry
from providers.base import Provider, ProviderError
from tenants.models import Mode, Tenant

# What a tenant without any account yet is shown (the only currency payments accept).
DEFAULT_CURRENCY = "ZMW"

_MONEY = DecimalField(max_digits=16, decimal_places=2)
_FINAL = [EntryPhase.POSTED, EntryPhase.POST_PENDING]  # the money moved
_RESOLUTIONS = [EntryPhase.POST_PENDING, EntryPhase.VOID_PENDING]  # each ends one pending entry


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


# --- the gateway's accounts (admin) ---------------------------------------------------------


def _side_sum(side: str, phases: list[EntryPhase]) -> Coalesce:
    """Sum of the account's entries on one side (debit_account or credit_account) in `phases`."""
    entries = (
        Entry.objects.filter(**{side: OuterRef("pk")}, phase__in=phases)
        .order_by()
        .values(side)
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(entries, output_field=_MONEY), Value(ZERO), output_field=_MONEY)


def with_entry_balances(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """Annotate each gateway account (float, fees, equity) with its balance summed from its
    entries, credits minus debits like a merchant's: `entry_posted` (posted entries and posted
    pending ones) and `entry_pending` (pending entries not yet posted or voided). Merchant
    accounts get None: their running totals are the balance (and summing their entries on
    every admin page would cost what the totals exist to avoid)."""
    gateway = ~Q(kind=AccountKind.MERCHANT)
    posted = _side_sum("credit_account", _FINAL) - _side_sum("debit_account", _FINAL)
    pending = (
        _side_sum("credit_account", [EntryPhase.PENDING])
        - _side_sum("credit_account", _RESOLUTIONS)
        - _side_sum("debit_account", [EntryPhase.PENDING])
        + _side_sum("debit_account", _RESOLUTIONS)
    )
    return accounts.annotate(
        entry_posted=Case(When(gateway, then=posted), default=None, output_field=_MONEY),
        entry_pending=Case(When(gateway, then=pending), default=None, output_field=_MONEY),
    )


def _annotated(account: Account | None, name: str) -> Decimal:
    value: Decimal | None = getattr(account, name, None)  # with_entry_balances' annotation
    return value or ZERO


@dataclass(frozen=True)
class FloatLine:
    """One operator, mode and currency: what the ledger says the operator holds for the
    gateway beside what the operator itself reports."""

    provider: str
    mode: str
    currency: str
    # Debits minus credits of the float account, posted: collections in, payouts and refunds
    # out (the float is an asset, so the account's credits-minus-debits balance is its negative).
    ledger: Decimal
    # Payouts and refunds reserved but not final yet: the operator may or may not have sent them.
    pending_out: Decimal
    operator: Decimal | None  # None when unavailable, or reported in another currency
    note: str = ""  # why the operator's balance is missing

    @property
    def difference(self) -> Decimal | None:
        return None if self.operator is None else self.operator - self.ledger


def list_float_reconciliation() -> list[FloatLine]:
    """Every operator and mode: the ledger's float beside `adapter.balance()`.

    Calls the operators: never from inside a transaction (the ledger is read first, in
    autocommit). An operator that fails or has no adapter yet is shown as unavailable.
    """
    ensure_outside_transaction()
    floats = {
        (account.provider, account.mode, account.currency): account
        for account in with_entry_balances(Account.objects.filter(kind=AccountKind.OPERATOR_FLOAT))
    }
    lines: list[FloatLine] = []
    for provider in Provider:
        for mode in Mode:
            operator_currency, operator_amount, note = "", None, ""
            try:
                reported = registry.get_adapter(provider, mode).balance()
            except ProviderError as exc:
                note = f"unavailable: {exc.message}"
            else:
                operator_currency, operator_amount = reported.currency, reported.available
            currencies = {c for p, m, c in floats if (p, m) == (provider, mode)}
            currencies |= {operator_currency} if operator_currency else set()
            for currency in sorted(currencies or {DEFAULT_CURRENCY}):
                account = floats.get((provider, mode, currency))
                matches = currency == operator_currency
                lines.append(
                    FloatLine(
                        provider=provider,
                        mode=mode,
                        currency=currency,
                        ledger=-_annotated(account, "entry_posted"),
                        pending_out=_annotated(account, "entry_pending"),
                        operator=operator_amount if matches else None,
                        note=note
                        or ("" if matches else f"the operator reports in {operator_currency}"),
                    )
                )
    return lines
