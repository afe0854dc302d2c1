from __future__ import annotations

from datetime import datetime

from webhooks.models import InboundCallback


def last_callback_at(*, provider: str) -> datetime | None:
    last = InboundCallback.objects.filter(provider=provider).order_by("-received_at").first()
    return last.received_at if last else None
