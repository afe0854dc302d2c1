from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet, Sum

from gateway.db import unique_or_none
from payments import availability, errors, routes
from payments.models import Payment, Transaction
from providers import registry, routing
from providers.base import ProviderError
from providers.models import OPERATIONS
from tenants.models import Mode, Tenant


def get_payment(*, tenant: Tenant, mode: Mode | str, public_id: str) -> Payment:
    payment = unique_or_none(
        Payment.objects.for_tenant(tenant, mode)
        .select_related("refund_of")
        .filter(public_id=public_id)
    )
    if payment is None:
        raise errors.PaymentNotFound(f"No payment {public_id}.")
    return payment


def get_account_holder(*, mode: Mode | str, msisdn: str) -> dict[str, object]:
    """Ask the number's operator whether the wallet is active (and whose it is).

    A read that calls the operator: never from inside a transaction.
    """
    provider = routing.route_msisdn(msisdn)
    registry.require_adapter(provider)
    try:
        holder = registry.get_adapter(provider, mode).account_holder(msisdn)
    except ProviderError as exc:
        raise errors.OperatorUnavailable(exc.message) from exc
    return {
        "msisdn": holder.msisdn,
        "active": holder.active,
        "given_name": holder.given_name,
        "family_name": holder.family_name,
        "provider": provider,
    }


def list_payments(
    *,
    tenant: Tenant,
    mode: Mode | str,
    status: str | None = None,
    flow: str | None = None,
    provider: str | None = None,
    external_id: str | None = None,
    msisdn: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Payment]:
    payments = Payment.objects.for_tenant(tenant, mode).select_related("refund_of")
    exact = {
        "status": status,
        "flow": flow,
        "provider": provider,
        "external_id": external_id,
        "msisdn": msisdn,
    }
    payments = payments.filter(**{field: value for field, value in exact.items() if value})
    if created_after is not None:
        payments = payments.filter(created_at__gte=created_after)
    if created_before is not None:
        payments = payments.filter(created_at__lt=created_before)
    return payments


def list_operators(*, tenant: Tenant, mode: Mode | str) -> list[dict[str, Any]]:
    """Each operator as the tenant uses it in this mode: its configuration (the defaults
    where the tenant has none), what it can do, and its availability per operation."""
    configs = routes.operator_configs(tenant_id=tenant.pk, mode=mode)
    operators = []
    for provider in registry.supported():
        config = configs.get(provider)
        health = availability.get_availability(provider=provider, mode=mode)
        limits = {
            operation: (config.limits(operation) if config else routes.NO_LIMITS)
            for operation in OPERATIONS
        }
        operators.append(
            {
                "provider": provider,
                "name": provider.label,
                "prefixes": sorted(
                    f"0{prefix}" for prefix, owner in routing.PREFIXES.items() if owner == provider
                ),
                "enabled": config.enabled if config else True,
                "allow_fallback": config.allow_fallback if config else False,
                "limits": {
                    operation: {
                        "min": limit.min_amount,
                        "max": limit.max_amount,
                        "daily_cap": limit.daily_cap,
                    }
                    for operation, limit in limits.items()
                },
                "capabilities": registry.capabilities(provider).as_dict(),
                "availability": {
                    operation: health[operation].as_dict() for operation in OPERATIONS
                },
            }
        )
    return operators


@dataclass(frozen=True)
class TimelineStep:
    """Consecutive operator calls that differ only in their time (a retried 503, a poll that
    keeps answering pending), shown once with how often and when first and last."""

    call: Transaction  # the first of the run
    count: int
    last_at: datetime


def _same_call(a: Transaction, b: Transaction) -> bool:
    keys = ("operation", "method", "url", "status_code", "outcome", "error", "request_body")
    return all(getattr(a, key) == getattr(b, key) for key in (*keys, "response_body"))


def list_timeline(*, payment: Payment) -> list[TimelineStep]:
    """A payment's operator calls in order, repeats collapsed into one step."""
    steps: list[TimelineStep] = []
    for call in payment.provider_calls.order_by("created_at", "id"):
        if steps and _same_call(steps[-1].call, call):
            steps[-1] = TimelineStep(steps[-1].call, steps[-1].count + 1, call.created_at)
        else:
            steps.append(TimelineStep(call, 1, call.created_at))
    return steps


def list_tenant_totals(*, tenant: Tenant, since: datetime) -> list[dict[str, Any]]:
    """A tenant's payments created since `since`: count and sum per mode, flow and status
    (on the tenant's own indexes, so a big table is not scanned)."""
    rows = (
        Payment.objects.filter(tenant=tenant, created_at__gte=since)
        .values("mode", "flow", "status", "currency")
        .annotate(count=Count("id"), total=Sum("amount"))
        .order_by("mode", "flow", "status", "currency")
    )
    return [dict(row) for row in rows]
