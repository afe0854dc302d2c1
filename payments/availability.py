"""Is an operator taking payments right now? OPERATIONAL, DELAYED or CLOSED per operation.

Computed from what the gateway itself saw: the last `PROVIDER_AVAILABILITY_WINDOW_SECONDS` of
submissions to the operator (Transaction rows, read through `transaction_recent_idx`: one
aggregate query per operator and mode) and the circuit breaker's shared state; cached for
`PROVIDER_AVAILABILITY_CACHE_SECONDS`. Ops can override it in the admin, with a reason and an
optional expiry; an override wins while it lasts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from audit import services as audit
from payments.models import Transaction
from providers import breakers
from providers.base import Operation, Provider
from providers.models import OPERATIONS, Availability, AvailabilityOverride
from providers.resilience import tuning

# The submission each operation starts with: what says whether the operator takes new work.
SUBMISSIONS = {
    "collection": Operation.REQUEST_PAYMENT,
    "disbursement": Operation.SEND_PAYOUT,
    "refund": Operation.REFUND,
}
# Outcomes that say the operator is sick (not a business refusal such as a declined payer).
UNHEALTHY_OUTCOMES = ("retryable", "breaker_open", "outcome_unknown")
_CACHE_KEY = "availability:{provider}:{mode}"


@dataclass(frozen=True)
class Health:
    state: Availability
    reason: str
    calls: int = 0
    success_rate: float | None = None
    latency_ms: float | None = None
    override_expires_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "reason": self.reason,
            "calls": self.calls,
            "success_rate": None if self.success_rate is None else round(self.success_rate, 3),
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "override_expires_at": self.override_expires_at,
        }


def get_availability(*, provider: Provider | str, mode: str) -> dict[str, Health]:
    """Each operation's health for one operator and mode (cached briefly)."""
    key = _CACHE_KEY.format(provider=provider, mode=mode)
    health: dict[str, Health] | None = cache.get(key)
    if health is None:
        health = compute_availability(provider=Provider(provider), mode=mode)
        cache.set(key, health, timeout=settings.PROVIDER_AVAILABILITY_CACHE_SECONDS)
    return health


def is_closed(*, provider: Provider | str, mode: str, operation: str) -> bool:
    return get_availability(provider=provider, mode=mode)[operation].state is Availability.CLOSED


def compute_availability(*, provider: Provider, mode: str) -> dict[str, Health]:
    now = timezone.now()
    since = now - timedelta(seconds=settings.PROVIDER_AVAILABILITY_WINDOW_SECONDS)
    stats = {
        row["operation"]: row
        for row in Transaction.objects.filter(
            provider=provider,
            mode=mode,
            operation__in=list(SUBMISSIONS.values()),
            created_at__gte=since,
        )
        .values("operation")
        .annotate(
            calls=Count("id"),
            unhealthy=Count("id", filter=Q(outcome__in=UNHEALTHY_OUTCOMES)),
            latency=Avg("duration_ms", filter=~Q(outcome__in=UNHEALTHY_OUTCOMES)),
        )
    }
    overrides = _active_overrides(provider=provider, mode=mode, now=now)
    breaker = _breaker_health(provider, mode)
    health = {}
    for operation, submission in SUBMISSIONS.items():
        override = overrides.get(operation) or overrides.get("")
        if override is not None:
            health[operation] = Health(
                state=Availability(override.state),
                reason=f"ops: {override.reason}",
                override_expires_at=override.expires_at,
            )
            continue
        row: Mapping[str, Any] = stats.get(submission.value, {})
        health[operation] = _judge(
            calls=row.get("calls", 0),
            unhealthy=row.get("unhealthy", 0),
            latency=row.get("latency"),
            breaker=breaker,
        )
    return health


def _judge(*, calls: int, unhealthy: int, latency: float | None, breaker: Health | None) -> Health:
    rate = (calls - unhealthy) / calls if calls else None
    state, reason = Availability.OPERATIONAL, "ok"
    # Too few submissions say nothing about the rate (one failure is not an outage).
    judged = rate if calls >= settings.PROVIDER_AVAILABILITY_MIN_CALLS else None
    if breaker is not None and breaker.state is Availability.CLOSED:
        state, reason = breaker.state, breaker.reason
    elif judged is not None and judged < settings.PROVIDER_AVAILABILITY_CLOSED_BELOW:
        state, reason = Availability.CLOSED, "failing"
    elif judged is not None and judged < settings.PROVIDER_AVAILABILITY_DELAYED_BELOW:
        state, reason = Availability.DELAYED, "errors"
    elif latency is not None and latency > settings.PROVIDER_AVAILABILITY_DELAYED_LATENCY_MS:
        state, reason = Availability.DELAYED, "slow"
    elif breaker is not None:
        state, reason = breaker.state, breaker.reason
    return Health(state=state, reason=reason, calls=calls, success_rate=rate, latency_ms=latency)


def _breaker_health(provider: Provider, mode: str) -> Health | None:
    """An open breaker closes the operator until its cool-down ends; then, or while it probes
    (half open), the operator is only DELAYED. None when the breaker is closed."""
    state = breakers.last_known(provider, mode)
    if state == "closed":
        return None
    since = breakers.seconds_since_change(provider, mode)
    cool_down = float(tuning(provider, "BREAKER_RESET_SECONDS"))
    if state == "open" and since is not None and since < cool_down:
        return Health(state=Availability.CLOSED, reason="breaker_open")
    return Health(state=Availability.DELAYED, reason="breaker_probing")


def _active_overrides(
    *, provider: Provider, mode: str, now: datetime
) -> dict[str, AvailabilityOverride]:
    """The newest override in force per operation ("" for every operation)."""
    active: dict[str, AvailabilityOverride] = {}
    for override in AvailabilityOverride.objects.filter(
        provider=provider, mode=mode, ended_at__isnull=True
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)):
        active.setdefault(override.operation, override)  # ordered newest first
    return active


# --- ops overrides (the admin calls these) ---------------------------------------------------


@transaction.atomic
def set_override(
    *,
    provider: Provider | str,
    mode: str,
    operation: str,
    state: Availability | str,
    reason: str,
    expires_at: datetime | None,
    actor: audit.Actor,
    user_id: int | None = None,
) -> AvailabilityOverride:
    audit.require_permission(actor, "providers.add_availabilityoverride")
    if operation and operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    override = AvailabilityOverride(
        provider=provider,
        mode=mode,
        operation=operation,
        state=state,
        reason=reason.strip(),
        expires_at=expires_at,
        created_by_id=user_id,
    )
    override.full_clean()
    override.save()
    audit.record(
        actor=actor,
        action="availability_override.created",
        target=override,
        tenant=None,
        data={
            "provider": str(provider),
            "mode": mode,
            "operation": operation or "*",
            "state": str(state),
            "reason": override.reason,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    _forget(provider, mode)
    return override


@transaction.atomic
def end_override(*, override: AvailabilityOverride, actor: audit.Actor) -> None:
    audit.require_permission(actor, "providers.change_availabilityoverride")
    if override.ended_at is not None:
        return
    override.ended_at = timezone.now()
    override.save(update_fields=["ended_at"])
    audit.record(
        actor=actor,
        action="availability_override.ended",
        target=override,
        tenant=None,
        data={"provider": override.provider, "mode": override.mode, "state": override.state},
    )
    _forget(override.provider, override.mode)


def _forget(provider: Provider | str, mode: str) -> None:
    # After the commit: a reader must not cache, from before it, what the override replaces.
    key = _CACHE_KEY.format(provider=provider, mode=mode)
    transaction.on_commit(lambda: cache.delete(key))
