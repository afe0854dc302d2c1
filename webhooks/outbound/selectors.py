"""Reads for outbound webhooks. Everything a merchant reaches starts from tenant and mode:
another tenant's (or mode's) endpoint, event or delivery looks exactly like a missing one."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from tenants.models import Mode, Tenant
from webhooks.outbound import errors
from webhooks.outbound.models import Delivery, Event, WebhookEndpoint


def list_webhook_endpoints(*, tenant: Tenant, mode: Mode | str) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.for_tenant(tenant, mode).order_by("-created_at", "-id")


def get_webhook_endpoint(*, tenant: Tenant, mode: Mode | str, public_id: str) -> WebhookEndpoint:
    endpoint = (
        WebhookEndpoint.objects.for_tenant(tenant, mode)
        .select_related("tenant")
        .filter(public_id=public_id)
        .first()
    )
    if endpoint is None:
        raise errors.WebhookEndpointNotFound(f"No webhook endpoint {public_id}.")
    return endpoint


def list_events(
    *,
    tenant: Tenant,
    mode: Mode | str,
    type: str | None = None,
    payment: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Event]:
    events = Event.objects.for_tenant(tenant, mode)
    if type:
        events = events.filter(type=type)
    if payment:
        events = events.filter(payment__public_id=payment)
    if created_after is not None:
        events = events.filter(created_at__gte=created_after)
    if created_before is not None:
        events = events.filter(created_at__lt=created_before)
    return events


def get_event(*, tenant: Tenant, mode: Mode | str, public_id: str) -> Event:
    """The event, with its deliveries (and their endpoints) prefetched."""
    deliveries = Delivery.objects.for_tenant(tenant, mode).select_related("endpoint", "event")
    event = (
        Event.objects.for_tenant(tenant, mode)
        .prefetch_related(Prefetch("deliveries", queryset=deliveries.order_by("created_at", "id")))
        .filter(public_id=public_id)
        .first()
    )
    if event is None:
        raise errors.EventNotFound(f"No event {public_id}.")
    return event


def list_endpoint_deliveries(
    *, endpoint: WebhookEndpoint, state: str | None = None
) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.for_tenant(endpoint.tenant, endpoint.mode).filter(
        endpoint=endpoint
    )
    if state:
        deliveries = deliveries.filter(state=state)
    return deliveries.select_related("endpoint", "event")
