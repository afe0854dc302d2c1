"""Which operator a new payment goes to, and whether the tenant's configuration lets it.

The operator is the one the request names (`provider`), else the one the number's prefix
predicts. A named operator wins over the prefix: numbers are ported between operators, and a
wallet number is unique across them, so the worst a wrong name can do is a payer-not-found
refusal from that operator. A refund goes where its collection went.

A tenant's `OperatorConfig` (providers.models; no row means enabled, no fallback, no limits)
may disable an operator or limit an operation (min, max, daily cap). Creating a payment reads
the tenant's rows for its mode once; a daily cap costs one upsert, and only when one is set.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from audit import services as audit
from gateway.errors import GatewayError
from payments import errors
from payments.models import Flow, Payment, Status
from providers import registry, routing
from providers.base import Capabilities, Provider
from providers.models import OPERATIONS, DailyUsage, Limits, OperatorConfig
from tenants.models import Mode, Tenant

# A daily cap counts a calendar day in Zambia (CAT, UTC+2).
LUSAKA = ZoneInfo("Africa/Lusaka")
NO_LIMITS = Limits()


class Reason:
    """Why a payment went to its operator (`routing.reason`)."""

    PREFIX = "prefix"  # the number's prefix
    EXPLICIT = "explicit"  # the request named the operator
    REFUND_OF = "refund_of"  # where the refunded collection went
    LOOKUP_PENDING = "lookup_pending"  # fallback allowed: lookups decide before sending
    REGISTERED = "registered"  # the predicted operator knows the number
    FALLBACK = "fallback"  # the predicted one does not; another enabled operator does
    NOT_REGISTERED = "not_registered"  # no enabled operator knows it: failed, nothing sent
    LOOKUP_FAILED = "lookup_failed"  # the predicted operator did not answer: sent to it


@dataclass(frozen=True)
class Route:
    provider: Provider
    routing: dict[str, str | None]
    limits: Limits = NO_LIMITS
    configs: dict[str, OperatorConfig] = field(default_factory=dict)


def route_payment(
    *,
    tenant: Tenant,
    mode: Mode,
    flow: Flow,
    msisdn: str,
    amount: Decimal,
    provider: Provider | None,
    refund_of: Payment | None = None,
    configs: dict[str, OperatorConfig] | None = None,
) -> Route:
    """The operator, checked against the tenant's configuration (one SELECT, none when the
    caller passes the tenant's `operator_configs` for many payments).

    Raises UnsupportedOperator, OperatorDisabled, or a 400 on `amount` outside the limits.
    """
    predicted = routing.PREFIXES.get(msisdn[3:5])
    if refund_of is not None:
        chosen, reason = Provider(refund_of.provider), Reason.REFUND_OF
    elif provider is not None:
        chosen, reason = Provider(provider), Reason.EXPLICIT
    else:
        chosen, reason = routing.route_msisdn(msisdn), Reason.PREFIX
    registry.require_adapter(chosen)
    if configs is None:
        configs = operator_configs(tenant_id=tenant.pk, mode=mode)
    config = configs.get(chosen)
    # A refund returns money already collected: it is owed whatever the tenant uses now.
    if config is not None and not config.enabled and flow != Flow.REFUND:
        raise errors.OperatorDisabled(
            f"{chosen.label} is disabled for this account in {mode} mode.", provider=chosen
        )
    limits = config.limits(flow) if config is not None else NO_LIMITS
    check_limits(limits, amount=amount, provider=chosen)
    # Collections and payouts (a payout's reservation moves with it, ledger.move_reservation);
    # a refund goes where its collection went.
    if reason == Reason.PREFIX and flow != Flow.REFUND and config and config.allow_fallback:
        reason = Reason.LOOKUP_PENDING
    return Route(
        provider=chosen,
        routing={
            "predicted": predicted.value if predicted else None,
            "chosen": chosen.value,
            "reason": reason,
        },
        limits=limits,
        configs=configs,
    )


def operator_configs(*, tenant_id: UUID, mode: str) -> dict[str, OperatorConfig]:
    """The tenant's configuration rows for a mode, by operator (absent: the defaults)."""
    # Read on every create: a statement written once, not compiled by the ORM each time.
    sql, names = _operator_configs_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant_id, mode])
        rows = cursor.fetchall()
    configs = (OperatorConfig.from_db(connection.alias, names, row) for row in rows)
    return {config.provider: config for config in configs}


@functools.cache
def _operator_configs_sql() -> tuple[str, list[str]]:
    fields = OperatorConfig._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    table = quote(OperatorConfig._meta.db_table)
    # The model's own names, no input.
    sql = f"SELECT {columns} FROM {table} WHERE tenant_id = %s AND mode = %s"  # noqa: S608  # nosec B608
    return sql, [field.attname for field in fields]


def fallback_candidates(
    *, configs: dict[str, OperatorConfig], predicted: Provider, flow: str, amount: Decimal
) -> list[Provider]:
    """The tenant's other enabled operators whose limits for `flow` and capabilities admit
    `amount`, in a fixed order."""
    candidates = []
    for provider in registry.supported():
        config = configs.get(provider)
        if provider == predicted or (config is not None and not config.enabled):
            continue
        try:
            check_limits(
                config.limits(flow) if config else NO_LIMITS,
                amount=amount,
                provider=provider,
            )
            check_capabilities(registry.capabilities(provider), amount=amount)
        except GatewayError:
            continue
        candidates.append(provider)
    return candidates


def check_capabilities(capabilities: Capabilities, *, amount: Decimal) -> None:
    """What the payment's operator takes (declared by its adapter)."""
    if amount > capabilities.max_amount:
        raise errors.invalid_field(
            "amount", f"Ensure this value is at most {capabilities.max_amount} for this operator."
        )
    step = Decimal(1).scaleb(-capabilities.decimals)
    if amount != amount.quantize(step):
        raise errors.invalid_field(
            "amount", f"This operator takes at most {capabilities.decimals} decimals."
        )


def check_limits(limits: Limits, *, amount: Decimal, provider: Provider) -> None:
    if limits.min_amount is not None and amount < limits.min_amount:
        raise errors.invalid_field(
            "amount", f"Ensure this value is at least {limits.min_amount} for {provider.label}."
        )
    if limits.max_amount is not None and amount > limits.max_amount:
        raise errors.invalid_field(
            "amount", f"Ensure this value is at most {limits.max_amount} for {provider.label}."
        )
    if limits.daily_cap is not None and amount > limits.daily_cap:
        raise errors.DailyCapExceeded(
            f"{amount} is more than the daily cap of {limits.daily_cap} for {provider.label}.",
            daily_cap=str(limits.daily_cap),
        )


def lusaka_today() -> date:
    return timezone.localdate(timezone=LUSAKA)


def consume_daily_cap(
    *, tenant: Tenant, mode: str, provider: str, flow: str, amount: Decimal, cap: Decimal
) -> date:
    """Count `amount` against today's cap, or raise DailyCapExceeded and count nothing.

    One statement: the row lock of the upsert makes concurrent creates take turns, and the
    WHERE refuses the one that would pass the cap. Run it in the payment's own transaction
    (savepoint), so that a payment that is not created counts nothing.
    """
    day = lusaka_today()
    table = DailyUsage._meta.db_table
    refused = errors.DailyCapExceeded(
        f"Today's {flow}s to {Provider(provider).label} would pass the daily cap of {cap}.",
        daily_cap=str(cap),
    )
    if amount > cap:
        raise refused  # the day's first INSERT below checks nothing (many payouts at once)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} AS usage (tenant_id, mode, provider, operation, day, total)"  # noqa: S608  # nosec B608  # the table name is ours
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, mode, provider, operation, day)"
            " DO UPDATE SET total = usage.total + EXCLUDED.total"
            " WHERE usage.total + EXCLUDED.total <= %s"
            " RETURNING total",
            [tenant.pk, mode, provider, flow, day, amount, cap],
        )
        if cursor.fetchone() is None:
            raise refused
    return day


def release_daily_cap(payment: Payment) -> None:
    """A failed payment stops counting against its day's cap (a hook on final statuses)."""
    if payment.cap_day is None or payment.status != Status.FAILED:
        return
    release_usage(payment, provider=payment.provider)


def release_usage(payment: Payment, *, provider: str) -> None:
    assert payment.cap_day is not None  # noqa: S101  # callers check
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DailyUsage._meta.db_table} SET total = total - %s"  # noqa: S608  # nosec B608  # ours
            " WHERE tenant_id = %s AND mode = %s AND provider = %s AND operation = %s"
            " AND day = %s",
            [
                payment.amount,
                payment.tenant_id,
                payment.mode,
                provider,
                payment.flow,
                payment.cap_day,
            ],
        )


# --- configuration (the admin calls these) ---------------------------------------------------


def _config_data(config: OperatorConfig) -> dict[str, object]:
    data: dict[str, object] = {
        "mode": config.mode,
        "provider": config.provider,
        "enabled": config.enabled,
        "allow_fallback": config.allow_fallback,
    }
    for operation in OPERATIONS:
        limits = config.limits(operation)
        data[operation] = {
            "min": _text(limits.min_amount),
            "max": _text(limits.max_amount),
            "daily_cap": _text(limits.daily_cap),
        }
    return data


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


@transaction.atomic
def save_operator_config(*, config: OperatorConfig, actor: audit.Actor) -> OperatorConfig:
    """Create or change a tenant's use of an operator, audited with the values before. New
    payments follow it at once; payments already created keep what they were checked with."""
    config.full_clean()
    before = OperatorConfig.objects.filter(pk=config.pk).first() if config.pk else None
    config.save()
    config.refresh_from_db()
    audit.record(
        actor=actor,
        action="operator_config.changed" if before else "operator_config.created",
        target=config,
        tenant=config.tenant,
        data={"before": _config_data(before) if before else None, **_config_data(config)},
    )
    return config


@transaction.atomic
def delete_operator_config(*, config: OperatorConfig, actor: audit.Actor) -> None:
    """Back to the defaults (enabled, no fallback, no limits), audited."""
    audit.record(
        actor=actor,
        action="operator_config.deleted",
        target=config,
        tenant=config.tenant,
        data=_config_data(config),
    )
    config.delete()
