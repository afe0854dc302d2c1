"""Events, the merchants' endpoints, and one delivery per event and endpoint.

An event is immutable (a trigger refuses any change but the fan-out mark, and any DELETE);
its `body` is the exact JSON sent on every attempt, so the signature and the merchant's
dedup by `webhook-id` see the same bytes whatever happens. A delivery's schedule lives in its
row (`next_attempt_at`): a periodic job finds due ones, so a lost job never loses one.
"""

from __future__ import annotations

import secrets
import string

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from tenants.models import Mode, TenantScopedQuerySet

_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 24
RESPONSE_EXCERPT_CHARS = 1024
ALL_EVENTS = "*"


def _new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH))


def new_event_id() -> str:
    """`evt_` and 24 base62 characters: the `webhook-id` of every attempt of this event."""
    return _new_id("evt_")


def new_endpoint_id() -> str:
    return _new_id("we_")


def new_delivery_id() -> str:
    return _new_id("dlv_")


class EventType(models.TextChoices):
    PAYMENT_SUCCEEDED = "payment.succeeded", "Payment succeeded"
    PAYMENT_FAILED = "payment.failed", "Payment failed"
    REFUND_SUCCEEDED = "refund.succeeded", "Refund succeeded"
    REFUND_FAILED = "refund.failed", "Refund failed"
    # The operator settled a collection we had failed as expired (found by reconciliation):
    # the merchant's balance is credited; the payment stays FAILED.
    PAYMENT_SETTLED_LATE = "payment.settled_late", "Payment settled after it expired"
    # Sent only to the endpoint that was pinged, whatever its enabled events.
    PING = "ping", "Ping"


SUBSCRIBABLE_EVENTS = [t.value for t in EventType if t is not EventType.PING]


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # not attempted yet (or resent)
    SUCCEEDED = "succeeded", "Succeeded"  # a 2xx answer
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead (retries exhausted, or the endpoint is gone)"


OPEN_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)


class WebhookEndpoint(models.Model):
    public_id = models.CharField(
        max_length=27, unique=True, default=new_endpoint_id, editable=False
    )
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="webhook_endpoints"
    )
    mode = models.CharField(max_length=4, choices=Mode.choices)
    url = models.CharField(max_length=2048)
    # Event types sent here; ["*"] is every type, including types added later.
    enabled_events = ArrayField(models.CharField(max_length=32), default=list)
    description = models.CharField(max_length=160, blank=True)
    # `whsec_` + base64 of 32 random bytes. Kept as it is because it must sign (a hash could
    # not); shown to the merchant only on creation and rotation.
    secret = models.CharField(max_length=64)
    # After a rotation the old secret signs beside the new one until it expires.
    previous_secret = models.CharField(max_length=64, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    # Health, written by deliveries.
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet["WebhookEndpoint"].as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=Mode.values), name="webhook_endpoint_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(secret__startswith="whsec_"),  # noqa: S106  # a prefix, not a password
                name="webhook_endpoint_secret_format",
            ),
            # A reason exactly when disabled.
            models.CheckConstraint(
                condition=Q(disabled_at__isnull=True, disabled_reason="")
                | (Q(disabled_at__isnull=False) & ~Q(disabled_reason="")),
                name="webhook_endpoint_disabled_reason_iff_disabled",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "mode", "-created_at"], name="webhook_endpoint_list_idx")
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_enabled(self) -> bool:
        return self.disabled_at is None

    def subscribes_to(self, event_type: str) -> bool:
        return ALL_EVENTS in self.enabled_events or event_type in self.enabled_events


class Event(models.Model):
    public_id = models.CharField(max_length=28, unique=True, default=new_event_id, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="events")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    type = models.CharField(max_length=32, choices=EventType.choices)
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
    )
    # The exact bytes POSTed (UTF-8 JSON): the payment's API representation at that moment.
    body = models.TextField()
    created_at = models.DateTimeField()
    # Set once, by the fan-out job, when the event's deliveries exist (the only column the
    # immutability trigger lets change).
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScopedQuerySet["Event"].as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="event_mode_valid"),
            models.CheckConstraint(condition=Q(type__in=EventType.values), name="event_type_valid"),
            # A payment becomes final once: one event per payment (pings have none).
            models.UniqueConstraint(fields=["payment"], name="event_one_per_payment"),
        ]
        indexes = [
            models.Index(fields=["tenant", "mode", "-created_at", "-id"], name="event_list_idx"),
            # The dispatcher's safety net: events whose fan-out job was lost.
            models.Index(
                fields=["created_at"],
                condition=Q(fanned_out_at__isnull=True),
                name="event_not_fanned_out_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class Delivery(models.Model):
    public_id = models.CharField(
        max_length=28, unique=True, default=new_delivery_id, editable=False
    )
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    # Deleting an endpoint deletes its deliveries (the events stay).
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The endpoint's, copied so that every API query is scoped by tenant and mode directly.
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    # Attempts in the current schedule (a resend of a finished delivery starts a new one).
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; while an attempt runs, when its lease ends. None once
    # succeeded or dead.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The job attempt running it (`job_<id>_<attempt>`): a retried job takes over its own
    # dead attempt at once instead of waiting for the lease to end.
    lease_holder = models.CharField(max_length=64, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    response_excerpt = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet["Delivery"].as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        permissions = [("resend_delivery", "Can resend a webhook delivery")]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_one_per_endpoint"),
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="delivery_state_valid"
            ),
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="delivery_mode_valid"),
            # Open deliveries have a due time; finished ones do not.
            models.CheckConstraint(
                condition=Q(state__in=OPEN_STATES, next_attempt_at__isnull=False)
                | (~Q(state__in=OPEN_STATES) & Q(next_attempt_at__isnull=True)),
                name="delivery_next_attempt_iff_open",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("response_excerpt"), RESPONSE_EXCERPT_CHARS),
                name="delivery_response_excerpt_max_1kb",
            ),
        ]
        indexes = [
            # The dispatcher's query: due deliveries among the open ones.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=OPEN_STATES),
                name="delivery_due_idx",
            ),
            # A delivery job's query: the due deliveries of one endpoint.
            models.Index(
                fields=["endpoint", "next_attempt_at"],
                condition=Q(state__in=OPEN_STATES),
                name="delivery_endpoint_due_idx",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_idx"),
            models.Index(fields=["state", "last_attempt_at"], name="delivery_state_idx"),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class DeadDelivery(Delivery):
    """The dead letters: deliveries whose retries ran out, or whose endpoint went away."""

    class Meta:
        proxy = True
        verbose_name = "dead letter"
        verbose_name_plural = "dead letters"
