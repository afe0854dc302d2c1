"""Writes for outbound webhooks: events, endpoints, and the delivery schedule.

An event is recorded by the one writer of payment status, in its transaction (via
`payments.hooks.on_final`, registered in WebhooksConfig.ready), with its fan-out job: a
rolled-back transition leaves neither. The fan-out job creates one Delivery per matching
endpoint and defers its first attempt. Every later attempt is found in the rows
(`next_attempt_at`) by the periodic dispatcher, so a lost job or a killed worker delays a
delivery but never loses it.

Deliveries run on the `webhooks` queue (never beside payment jobs). Each delivery belongs to
one of WEBHOOK_ENDPOINT_CONCURRENCY slots of its endpoint (its id modulo that), and a delivery
job drains one slot (the due deliveries of that slot, oldest first, for up to DRAIN_SECONDS)
under a Procrastinate lock named after it: one endpoint, however slow or dead, holds at most
that many worker threads, other merchants' deliveries go on, and a busy endpoint costs one
job per slot rather than one per delivery.

Jobs are deferred by task name (webhooks.jobs imports this module, never the reverse).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.exceptions import AlreadyEnqueued

from audit import services as audit
from gateway import context
from gateway.db import ensure_outside_transaction
from payments.models import Flow, Payment, Status
from payments.serializers import PaymentSerializer
from tenants.models import Mode, Tenant
from webhooks.outbound import client, errors, signing, ssrf
from webhooks.outbound.models import (
    ALL_EVENTS,
    OPEN_STATES,
    Delivery,
    DeliveryState,
    Event,
    EventType,
    WebhookEndpoint,
)

logger = logging.getLogger(__name__)

FAN_OUT_TASK = "webhooks.fan_out_event"
DELIVER_TASK = "webhooks.deliver"
# Endpoints per tenant and mode.
MAX_ENDPOINTS = 16
# Events one replay may queue.
REPLAY_MAX_EVENTS = 10_000
# Each retry delay is the schedule's, times a random factor in [1 - JITTER, 1 + JITTER], so
# that deliveries failing together (a merchant's outage) do not come back together.
JITTER = 0.1
# A Retry-After is honoured up to this long.
RETRY_AFTER_MAX = timedelta(hours=24)
# An event not fanned out this long after its creation lost its job: the dispatcher defers
# another.
FAN_OUT_GRACE = timedelta(seconds=30)
# How long one delivery job goes on draining its slot before it queues itself again.
DRAIN_SECONDS = 5.0
# 410 Gone from the merchant's server: it asks us to stop.
GONE_REASON = "The endpoint answered 410 Gone."
# What a staff user needs for ops' webhook actions (merchants act through their own keys).
ENDPOINT_PERMISSION = "webhooks.change_webhookendpoint"
RESEND_PERMISSION = "webhooks.resend_delivery"


# --- events: recorded by payments' one writer of status -----------------------------------


def record_payment_event(payment: Payment) -> Event:
    """The event of a payment that just became final, and its fan-out job, in the caller's
    transaction (payments.hooks.on_final)."""
    event = _new_event(
        tenant_id=payment.tenant_id,
        mode=payment.mode,
        event_type=_event_type(payment),
        payment=payment,
        data=dict(PaymentSerializer(payment).data),
    )
    _defer(FAN_OUT_TASK, queueing_lock=f"event:{event.pk}", event_id=event.pk)
    return event


def record_late_settlement_event(payment: Payment, *, settled: dict[str, Any]) -> Event:
    """payment.settled_late, in the caller's transaction: the payment as it is (FAILED) and
    what the operator's statement says it settled (`settled`)."""
    event = _new_event(
        tenant_id=payment.tenant_id,
        mode=payment.mode,
        event_type=EventType.PAYMENT_SETTLED_LATE,
        payment=payment,
        data={**PaymentSerializer(payment).data, "settled_late": settled},
    )
    _defer(FAN_OUT_TASK, queueing_lock=f"event:{event.pk}", event_id=event.pk)
    return event


def _event_type(payment: Payment) -> EventType:
    succeeded = payment.status == Status.SUCCESSFUL
    if payment.flow == Flow.REFUND:
        return EventType.REFUND_SUCCEEDED if succeeded else EventType.REFUND_FAILED
    return EventType.PAYMENT_SUCCEEDED if succeeded else EventType.PAYMENT_FAILED


def _new_event(
    *,
    tenant_id: Any,
    mode: str,
    event_type: EventType,
    data: dict[str, Any],
    payment: Payment | None = None,
    fanned_out: bool = False,
) -> Event:
    now = timezone.now()
    event = Event(
        tenant_id=tenant_id,
        mode=mode,
        type=event_type,
        payment=payment,
        created_at=now,
        fanned_out_at=now if fanned_out else None,
    )
    # Rendered once: every attempt sends (and signs) these exact bytes.
    event.body = json.dumps(
        {
            "id": event.public_id,
            "object": "event",
            "type": event_type.value,
            "timestamp": now,
            "mode": mode,
            "data": data,
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    event.save()
    return event


@transaction.atomic(durable=True)
def fan_out_event(*, event_id: int) -> int:
    """One delivery per enabled endpoint of the event's tenant and mode that subscribes to
    its type, each with its first attempt queued. Runs once per event (the event row is locked
    and marked); returns the number of deliveries created."""
    event = Event.objects.select_for_update().filter(pk=event_id).first()
    if event is None or event.fanned_out_at is not None:
        return 0
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(
            tenant_id=event.tenant_id, mode=event.mode, disabled_at__isnull=True
        )
        if endpoint.subscribes_to(event.type)
    ]
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                event=event,
                endpoint=endpoint,
                tenant_id=endpoint.tenant_id,
                mode=endpoint.mode,
                next_attempt_at=now,
            )
            for endpoint in endpoints
        ]
    )
    Event.objects.filter(pk=event.pk).update(fanned_out_at=now)
    for delivery in deliveries:
        _defer_delivery(delivery)
    return len(deliveries)


# --- the schedule ---------------------------------------------------------------------------


@transaction.atomic(durable=True)
def dispatch_due_deliveries(*, batch_size: int | None = None) -> int:
    """Queue a delivery job for each endpoint slot with due deliveries and no job waiting,
    and a fan-out for each event whose fan-out job was lost; returns the delivery jobs
    queued. Several dispatchers may run: queueing locks refuse the duplicates."""
    now = timezone.now()
    limit = batch_size or settings.WEBHOOK_DISPATCH_BATCH_SIZE
    lost_fan_outs = list(
        Event.objects.filter(fanned_out_at__isnull=True, created_at__lt=now - FAN_OUT_GRACE)
        .filter(~_job_waiting("event:"))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in lost_fan_outs:
        _defer(FAN_OUT_TASK, queueing_lock=f"event:{event_id}", event_id=event_id)
    slots: int = settings.WEBHOOK_ENDPOINT_CONCURRENCY
    due = list(
        Delivery.objects.filter(state__in=OPEN_STATES, next_attempt_at__lte=now)
        .annotate(slot=F("id") % slots)
        .order_by()
        .values_list("endpoint_id", "slot")
        .distinct()[:limit]
    )
    waiting = set(
        ProcrastinateJob.objects.filter(status="todo", task_name=DELIVER_TASK).values_list(
            "queueing_lock", flat=True
        )
    )
    queued = 0
    for endpoint_id, slot in due:
        if _slot_lock(endpoint_id, slot) not in waiting:
            _defer_slot(endpoint_id, slot)
            queued += 1
    return queued


def _job_waiting(prefix: str) -> Exists:
    """A job for this row waits in the queue already (its queueing lock is taken)."""
    return Exists(
        ProcrastinateJob.objects.filter(
            status="todo",
            queueing_lock=Concat(Value(prefix), Cast(OuterRef("pk"), CharField())),
        )
    )


def retry_delay(attempts: int) -> timedelta | None:
    """How long after the `attempts`-th failed attempt the next one is due (with jitter);
    None when the schedule is exhausted."""
    schedule: list[int] = settings.WEBHOOK_RETRY_SCHEDULE_SECONDS
    if attempts > len(schedule):
        return None
    seconds = schedule[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311  # jitter, not a secret
    return timedelta(seconds=seconds)


# --- one attempt ----------------------------------------------------------------------------


def deliver_due(*, endpoint_id: int, slot: int) -> int:
    """The delivery job's service: attempt the due deliveries of one slot of one endpoint,
    oldest first, one after another, for up to DRAIN_SECONDS; then queue itself again (behind
    the other slots' jobs) if due ones remain. Returns the attempts made.

    One job per slot rather than per delivery: a job costs Procrastinate a fetch under its
    lock and a finish, several times what an attempt to a fast receiver costs."""
    ensure_outside_transaction()
    started = time.monotonic()
    attempts = 0
    while True:
        if time.monotonic() - started > DRAIN_SECONDS:
            if _slot_has_due(endpoint_id, slot):
                _defer_slot(endpoint_id, slot)
            return attempts
        delivery = _claim_next(endpoint_id, slot)
        if delivery is None:
            return attempts
        _attempt(delivery)
        attempts += 1


def deliver(*, delivery_id: int) -> Delivery | None:
    """Attempt one delivery now if it is due, and record the outcome; None when it is not
    due (done already, or an attempt holds it)."""
    ensure_outside_transaction()
    delivery = _claim(delivery_id)
    return None if delivery is None else _attempt(delivery)


def _attempt(delivery: Delivery) -> Delivery | None:
    if not delivery.endpoint.is_enabled:
        return _bury(delivery, "The endpoint is disabled.")
    return _record(delivery, _send(delivery))


def _holder() -> tuple[str, str | None]:
    """This attempt's lease holder, and the prefix of its job's earlier attempts (a retried
    job takes over its own dead attempt's lease at once)."""
    holder = context.request_id.get()
    mine = holder.rsplit("_", 1)[0] + "_" if holder.startswith("job_") else None
    return holder[:64], mine


def _claim(delivery_id: int) -> Delivery | None:
    """Take a due open delivery for one attempt: its due time becomes the attempt's lease, so
    the dispatcher leaves it alone until the attempt ends or the lease runs out (a dead
    worker)."""
    now = timezone.now()
    holder, mine = _holder()
    claimable = Q(next_attempt_at__lte=now)
    if mine:
        claimable |= Q(lease_holder__startswith=mine)
    claimed = (
        Delivery.objects.filter(pk=delivery_id, state__in=OPEN_STATES)
        .filter(claimable)
        .update(next_attempt_at=now + _lease(), lease_holder=holder, updated_at=now)
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("endpoint", "event").get(pk=delivery_id)


_CLAIM_NEXT = """
    UPDATE webhooks_delivery SET next_attempt_at = %(lease)s, lease_holder = %(holder)s,
           updated_at = %(now)s
     WHERE id = (
        SELECT id FROM webhooks_delivery
         WHERE endpoint_id = %(endpoint)s AND id %% %(slots)s = %(slot)s
           AND state IN ('pending', 'failed')
           AND (next_attempt_at <= %(now)s OR starts_with(lease_holder, %(mine)s))
         ORDER BY next_attempt_at, id
         LIMIT 1
           FOR UPDATE SKIP LOCKED)
    RETURNING id
"""


def _claim_next(endpoint_id: int, slot: int) -> Delivery | None:
    """Claim the oldest due delivery of the slot, in one statement."""
    now = timezone.now()
    holder, mine = _holder()
    params: dict[str, Any] = {
        "lease": now + _lease(),
        "holder": holder,
        "now": now,
        "endpoint": endpoint_id,
        "slots": settings.WEBHOOK_ENDPOINT_CONCURRENCY,
        "slot": slot,
        "mine": mine,
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_NEXT, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return Delivery.objects.select_related("endpoint", "event").get(pk=row[0])


def _slot_has_due(endpoint_id: int, slot: int) -> bool:
    slots: int = settings.WEBHOOK_ENDPOINT_CONCURRENCY
    return (
        Delivery.objects.annotate(slot=F("id") % slots)
        .filter(endpoint_id=endpoint_id, slot=slot, state__in=OPEN_STATES)
        .filter(next_attempt_at__lte=timezone.now())
        .exists()
    )


def _lease() -> timedelta:
    return timedelta(
        seconds=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS
        + settings.WEBHOOK_READ_TIMEOUT_SECONDS
        + 10
    )


def _send(delivery: Delivery) -> client.Answer:
    endpoint, event = delivery.endpoint, delivery.event
    body = event.body.encode()
    return client.post(
        url=endpoint.url,
        body=body,
        headers=signing.headers(
            secrets=signing_secrets(endpoint),
            msg_id=event.public_id,
            timestamp=int(timezone.now().timestamp()),
            body=body,
        ),
        connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
    )


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The current secret, and the previous one while its rotation grace lasts."""
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > timezone.now():
        secrets.append(endpoint.previous_secret)
    return secrets


def _record(delivery: Delivery, answer: client.Answer) -> Delivery | None:
    """Write an attempt's outcome and the next step: done, a retry at the schedule's next
    offset (or the Retry-After asked for), or dead. `delivery` is the claimed row; one
    conditional UPDATE writes it, only while this attempt still holds it (the row may have
    been deleted with its endpoint, or taken over after the lease ran out). Returns None when
    the outcome was not written."""
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status = answer.status
    delivery.last_error = answer.error
    delivery.response_excerpt = answer.excerpt
    delivery.duration_ms = answer.duration_ms
    endpoint = delivery.endpoint
    if answer.succeeded:
        delivery.state, delivery.next_attempt_at = DeliveryState.SUCCEEDED, None
        delivery.succeeded_at = now
    else:
        delay = retry_delay(delivery.attempts)
        if answer.status == 410:
            delay = None
        elif delay is not None and answer.retry_after is not None:
            asked = timedelta(seconds=answer.retry_after)
            delay = max(delay, min(asked, RETRY_AFTER_MAX))
        if delay is None:
            delivery.state, delivery.next_attempt_at = DeliveryState.DEAD, None
        else:
            delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, now + delay
    written = Delivery.objects.filter(
        pk=delivery.pk, state__in=OPEN_STATES, lease_holder=delivery.lease_holder
    ).update(
        state=delivery.state,
        attempts=F("attempts") + 1,
        next_attempt_at=delivery.next_attempt_at,
        lease_holder="",
        last_attempt_at=now,
        succeeded_at=delivery.succeeded_at,
        last_status=answer.status,
        last_error=answer.error,
        response_excerpt=answer.excerpt,
        duration_ms=answer.duration_ms,
        updated_at=now,
    )
    delivery.lease_holder = ""
    if answer.succeeded:
        _endpoint_succeeded(endpoint, now)
    else:
        _endpoint_failed(endpoint.pk, now)
        if answer.status == 410:
            _disable(endpoint.pk, GONE_REASON, now)
    _log_attempt(delivery, answer)
    return delivery if written else None


def _bury(delivery: Delivery, reason: str) -> Delivery:
    """A delivery whose endpoint was disabled: dead, without an attempt."""
    delivery.state, delivery.next_attempt_at, delivery.last_error = DeliveryState.DEAD, None, reason
    Delivery.objects.filter(pk=delivery.pk, lease_holder=delivery.lease_holder).update(
        state=delivery.state, next_attempt_at=None, lease_holder="", last_error=reason
    )
    delivery.lease_holder = ""
    return delivery


def _endpoint_succeeded(endpoint: WebhookEndpoint, now: datetime) -> None:
    # At most one write a second for a healthy endpoint (and none when the claim's copy shows
    # it fresh): hundreds of deliveries a second to one endpoint must not queue on its row.
    recent = now - timedelta(seconds=1)
    if (
        endpoint.consecutive_failures == 0
        and endpoint.last_success_at is not None
        and endpoint.last_success_at >= recent
    ):
        return
    WebhookEndpoint.objects.filter(pk=endpoint.pk).filter(
        Q(consecutive_failures__gt=0)
        | Q(last_success_at__isnull=True)
        | Q(last_success_at__lt=recent)
    ).update(last_success_at=now, consecutive_failures=0)


def _endpoint_failed(endpoint_id: int, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        last_failure_at=now, consecutive_failures=F("consecutive_failures") + 1
    )


def _disable(endpoint_id: int, reason: str, now: datetime) -> None:
    # Its other open deliveries become dead at their next turn (deliver, above): marking them
    # here would lock their rows against attempts recording in parallel.
    WebhookEndpoint.objects.filter(pk=endpoint_id, disabled_at__isnull=True).update(
        disabled_at=now, disabled_reason=reason[:255], updated_at=now
    )
    logger.warning("webhook endpoint disabled", extra={"endpoint_pk": endpoint_id})


def _log_attempt(delivery: Delivery, answer: client.Answer) -> None:
    logger.info(
        "webhook delivery attempt",
        extra={
            "delivery_id": delivery.public_id,
            "endpoint_pk": delivery.endpoint_id,
            "state": delivery.state,
            "attempt": delivery.attempts,
            "status": answer.status,
            "error": answer.error,
            "duration_ms": answer.duration_ms,
        },
    )


# --- endpoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointWithSecret:
    """An endpoint and its new secret: the only moments the secret is shown."""

    endpoint: WebhookEndpoint
    secret: str


def check_url(url: str) -> str:
    """The URL, if webhooks may be sent there now (resolved, every address checked); raises
    InvalidWebhookUrl. Resolves the host: call it before opening a transaction."""
    try:
        ssrf.check(url)
    except ssrf.UrlRefused as exc:
        raise errors.invalid_url(exc.reason) from exc
    return url


@transaction.atomic  # may nest in the idempotency middleware's transaction
def create_webhook_endpoint(
    *,
    tenant: Tenant,
    mode: Mode,
    url: str,
    actor: audit.Actor,
    enabled_events: list[str] | None = None,
    description: str = "",
) -> EndpointWithSecret:
    """The caller has checked the URL (`check_url`) outside the transaction."""
    # The tenant's row lock serializes concurrent creations, so the limit holds.
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    if WebhookEndpoint.objects.for_tenant(tenant, mode).count() >= MAX_ENDPOINTS:
        raise errors.WebhookEndpointLimitReached(
            f"At most {MAX_ENDPOINTS} webhook endpoints per mode; delete one first."
        )
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        tenant=tenant,
        mode=mode,
        url=url,
        enabled_events=_normalized(enabled_events or [ALL_EVENTS]),
        description=description,
        secret=secret,
    )
    endpoint.full_clean()
    endpoint.save()
    audit.record(
        actor=actor,
        action="webhook_endpoint.created",
        target=endpoint,
        tenant=tenant,
        data={"public_id": endpoint.public_id, "url": url, "events": endpoint.enabled_events},
    )
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


@transaction.atomic
def update_webhook_endpoint(
    *,
    endpoint: WebhookEndpoint,
    actor: audit.Actor,
    url: str | None = None,
    enabled_events: list[str] | None = None,
    description: str | None = None,
    disabled: bool | None = None,
) -> WebhookEndpoint:
    """A new URL must have passed `check_url`. Enabling clears the disabled reason and the
    failure count; deliveries that died meanwhile stay dead (replay them)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    changed: dict[str, Any] = {}
    if url is not None and url != endpoint.url:
        endpoint.url = changed["url"] = url
    if enabled_events is not None:
        endpoint.enabled_events = changed["enabled_events"] = _normalized(enabled_events)
    if description is not None:
        endpoint.description = changed["description"] = description
    if disabled is True and endpoint.is_enabled:
        endpoint.disabled_at, endpoint.disabled_reason = timezone.now(), "Disabled by the merchant."
        changed["disabled"] = True
    elif disabled is False and not endpoint.is_enabled:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
        endpoint.consecutive_failures = 0
        changed["disabled"] = False
    if changed:
        endpoint.full_clean()
        endpoint.save()
        audit.record(
            actor=actor,
            action="webhook_endpoint.updated",
            target=endpoint,
            tenant=endpoint.tenant,
            data={"public_id": endpoint.public_id, **changed},
        )
    return endpoint


@transaction.atomic
def delete_webhook_endpoint(*, endpoint: WebhookEndpoint, actor: audit.Actor) -> None:
    """The endpoint and its deliveries (the events stay, for replay to other endpoints)."""
    audit.record(
        actor=actor,
        action="webhook_endpoint.deleted",
        target=endpoint,
        tenant=endpoint.tenant,
        data={"public_id": endpoint.public_id, "url": endpoint.url},
    )
    endpoint.delete()


@transaction.atomic
def rotate_webhook_secret(
    *, endpoint: WebhookEndpoint, actor: audit.Actor, grace: timedelta | None = None
) -> EndpointWithSecret:
    """A new secret; the current one keeps signing beside it for `grace` (24 h by default),
    so the merchant can deploy the new one without rejecting a delivery. Rotating again
    within the grace retires the older secret at once."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    grace = grace or timedelta(hours=settings.WEBHOOK_SECRET_ROTATION_GRACE_HOURS)
    secret = signing.new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + grace
    endpoint.secret = secret
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    audit.record(
        actor=actor,
        action="webhook_endpoint.secret_rotated",
        target=endpoint,
        tenant=endpoint.tenant,
        data={
            "public_id": endpoint.public_id,
            "previous_expires_at": endpoint.previous_secret_expires_at.isoformat(),
        },
    )
    return EndpointWithSecret(endpoint=endpoint, secret=secret)


@transaction.atomic
def set_webhook_endpoint_enabled(
    *, endpoint: WebhookEndpoint, enabled: bool, actor: audit.Actor
) -> WebhookEndpoint:
    """For ops (the admin): the same as the merchant's PATCH `disabled`."""
    audit.require_permission(actor, ENDPOINT_PERMISSION)
    return update_webhook_endpoint(endpoint=endpoint, actor=actor, disabled=not enabled)


def _normalized(events: list[str]) -> list[str]:
    unique = sorted(set(events))
    return [ALL_EVENTS] if ALL_EVENTS in unique else unique


# --- ping, resend, replay -------------------------------------------------------------------


def ping_webhook_endpoint(*, endpoint: WebhookEndpoint) -> Delivery:
    """A signed `ping` event sent to this endpoint now; the delivery with its result.

    Merchant I/O during a request: the rows are committed first (a process that dies before
    recording leaves an open delivery that the dispatcher retries when its lease ends), and no
    transaction is open during the POST (the view takes no Idempotency-Key for that reason).
    """
    ensure_outside_transaction()
    with transaction.atomic(durable=True):
        event = _new_event(
            tenant_id=endpoint.tenant_id,
            mode=endpoint.mode,
            event_type=EventType.PING,
            data={"object": "ping", "webhook_endpoint": endpoint.public_id},
            fanned_out=True,
        )
        delivery = Delivery.objects.create(
            event=event,
            endpoint=endpoint,
            tenant_id=endpoint.tenant_id,
            mode=endpoint.mode,
            next_attempt_at=timezone.now() + _lease(),
            lease_holder=context.request_id.get()[:64],
        )
    delivery.event, delivery.endpoint = event, endpoint
    return _record(delivery, _send(delivery)) or delivery


@transaction.atomic
def resend_event(*, event: Event, endpoint: WebhookEndpoint | None = None) -> list[Delivery]:
    """Attempt the event's deliveries again now, with the same webhook-id: to `endpoint`
    (which gets a delivery if it had none), else to every endpoint it was delivered to.
    A finished delivery (succeeded or dead) starts a new schedule; an open one is due now.
    Disabled endpoints are skipped (WebhookEndpointDisabled when named)."""
    if endpoint is not None:
        if not endpoint.is_enabled:
            raise errors.WebhookEndpointDisabled(f"{endpoint.public_id} is disabled.")
        endpoints = [endpoint]
    else:
        endpoints = list(
            WebhookEndpoint.objects.filter(deliveries__event=event, disabled_at__isnull=True)
        )
    deliveries = _reopen(event_ids=[event.pk], endpoints=endpoints)
    for delivery in deliveries:
        _defer_delivery(delivery)
    return deliveries


@transaction.atomic
def replay_events(
    *, endpoint: WebhookEndpoint, created_after: datetime, created_before: datetime
) -> int:
    """Queue every event of the range (created_after <= created_at < created_before) that the
    endpoint subscribes to, again, with its own webhook-id; returns how many. The dispatcher
    sends them (within a WEBHOOK_DISPATCH_INTERVAL_SECONDS), oldest first."""
    if not endpoint.is_enabled:
        raise errors.WebhookEndpointDisabled(f"{endpoint.public_id} is disabled.")
    events = Event.objects.for_tenant(endpoint.tenant, endpoint.mode).filter(
        created_at__gte=created_after, created_at__lt=created_before
    )
    events = events.exclude(type=EventType.PING)
    if ALL_EVENTS not in endpoint.enabled_events:
        events = events.filter(type__in=endpoint.enabled_events)
    event_ids = list(events.order_by("created_at", "id").values_list("pk", flat=True))
    if len(event_ids) > REPLAY_MAX_EVENTS:
        raise errors.ReplayRangeTooLarge(
            f"{len(event_ids)} events; at most {REPLAY_MAX_EVENTS} per replay: split the range."
        )
    _reopen(event_ids=event_ids, endpoints=[endpoint])
    return len(event_ids)


def _reopen(*, event_ids: list[int], endpoints: list[WebhookEndpoint]) -> list[Delivery]:
    """Deliveries of these events to these endpoints, due now: created, or reopened."""
    now = timezone.now()
    rows = [
        Delivery(
            event_id=event_id,
            endpoint=endpoint,
            tenant_id=endpoint.tenant_id,
            mode=endpoint.mode,
            next_attempt_at=now,
        )
        for endpoint in endpoints
        for event_id in event_ids
    ]
    if not rows:
        return []
    existing = Delivery.objects.filter(endpoint__in=endpoints, event_id__in=event_ids)
    # Finished ones start a new schedule; open ones are due now (an attempt running now
    # records its own outcome afterwards).
    existing.filter(state__in=[DeliveryState.SUCCEEDED, DeliveryState.DEAD]).update(
        state=DeliveryState.PENDING, attempts=0, next_attempt_at=now, updated_at=now
    )
    existing.filter(state__in=OPEN_STATES).update(next_attempt_at=now, updated_at=now)
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)  # the ones that did not exist
    return list(existing.only("pk", "endpoint_id"))


# --- internals ------------------------------------------------------------------------------


def _slot_lock(endpoint_id: int, slot: int) -> str:
    return f"webhook-endpoint:{endpoint_id}:{slot}"


def _defer_delivery(delivery: Delivery) -> None:
    """Queue the job of the delivery's slot (a job already waiting there will take it)."""
    slots: int = settings.WEBHOOK_ENDPOINT_CONCURRENCY
    _defer_slot(delivery.endpoint_id, delivery.pk % slots)


def _defer_slot(endpoint_id: int, slot: int) -> None:
    # The lock: one job per slot runs at a time, so at most WEBHOOK_ENDPOINT_CONCURRENCY
    # attempts to one endpoint run at once, and two attempts of one delivery never (same
    # slot). The queueing lock: at most one more waits.
    lock = _slot_lock(endpoint_id, slot)
    _defer(DELIVER_TASK, lock=lock, queueing_lock=lock, endpoint_id=endpoint_id, slot=slot)


def _defer(
    task_name: str, *, queueing_lock: str, lock: str | None = None, **task_kwargs: Any
) -> None:
    deferrer = app.configure_task(
        task_name, allow_unknown=False, lock=lock, queueing_lock=queueing_lock
    )
    # In a savepoint: a refused duplicate (a job already waiting) must not abort the caller's
    # transaction (a payment's status change, the dispatcher's batch).
    with contextlib.suppress(AlreadyEnqueued), transaction.atomic():
        deferrer.defer(**task_kwargs)


@transaction.atomic
def resend_delivery(*, delivery: Delivery, actor: audit.Actor) -> bool:
    """Ops' resend (the admin): this delivery again now, same webhook-id. False, and nothing
    queued, when its endpoint is disabled. Audited either way."""
    audit.require_permission(actor, RESEND_PERMISSION)
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    queued = endpoint.is_enabled
    if queued:
        for reopened in _reopen(event_ids=[delivery.event_id], endpoints=[endpoint]):
            _defer_delivery(reopened)
    audit.record(
        actor=actor,
        action="webhook_delivery.resend_requested",
        target=delivery,
        tenant=endpoint.tenant,
        data={"public_id": delivery.public_id, "queued": queued},
    )
    return queued
