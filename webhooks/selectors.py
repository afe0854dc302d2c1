from __future__ import annotations

from datetime import datetime

from django.db.models import Max

from providers import registry
from webhooks.models import InboundCallback


def last_callback_at(*, provider: str) -> datetime | None:
    """When the operator last reached us: only callbacks that matched a payment count, and
    only signed ones when a secret is set (a forger cannot keep the signal alive)."""
    matched = InboundCallback.objects.filter(provider=provider, payment__isnull=False)
    adapter = registry.adapter_class(provider)
    if adapter is not None and adapter.callbacks_are_signed():
        matched = matched.filter(signature_valid=True)
    else:
        matched = matched.exclude(signature_valid=False)
    last: datetime | None = matched.aggregate(last=Max("received_at"))["last"]
    return last
