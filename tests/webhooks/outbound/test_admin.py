"""Ops see endpoints with their health, deliveries by state, the dead letters, and can resend;
secrets never appear in the back-office."""

from __future__ import annotations

import pytest
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.webhooks.outbound.factories import attempt, endpoint_for, fanned_out, final_payment_event
from webhooks.outbound.models import Delivery, DeliveryState, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead(merchant, receiver, settings):
    """A delivery whose only attempt failed with the schedule exhausted."""
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = []
    hook = receiver()
    hook.always(500)
    endpoint, secret = endpoint_for(merchant.api_key.tenant, hook.url())
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))
    delivery = attempt(delivery.pk)
    assert delivery.state == DeliveryState.DEAD
    return delivery, endpoint, secret, hook


def test_endpoint_list_shows_health_and_never_the_secret(staff, dead) -> None:
    _, endpoint, secret, _ = dead

    listing = staff.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    page = staff.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))

    assert listing.status_code == page.status_code == 200
    assert endpoint.public_id in listing.text
    assert "consecutive" in listing.text.lower()
    assert secret not in listing.text and secret not in page.text
    assert secret.removeprefix("whsec_") not in page.text


def test_deliveries_filter_by_state_and_dead_letters_show_only_dead(staff, dead, merchant) -> None:
    delivery, _, _, _ = dead
    (pending,) = fanned_out(final_payment_event(merchant.api_key.tenant))

    pending_only = staff.get(reverse("admin:webhooks_delivery_changelist"), {"state": "pending"})
    letters = staff.get(reverse("admin:webhooks_deaddelivery_changelist"))

    assert pending.public_id in pending_only.text and delivery.public_id not in pending_only.text
    assert delivery.public_id in letters.text and pending.public_id not in letters.text
    assert staff.get(reverse("admin:webhooks_event_changelist")).status_code == 200
    event_page = staff.get(reverse("admin:webhooks_event_change", args=[delivery.event_id]))
    assert event_page.status_code == 200


def test_resend_action_reopens_a_dead_delivery(staff, dead, settings) -> None:
    delivery, _, _, hook = dead
    hook.always(200)
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [5]
    ProcrastinateJob.objects.all().delete()

    response = staff.post(
        reverse("admin:webhooks_deaddelivery_changelist"),
        {"action": "resend", "_selected_action": [delivery.pk]},
    )

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 0)
    assert ProcrastinateJob.objects.filter(task_name="webhooks.deliver").count() == 1
    assert attempt(delivery.pk).state == DeliveryState.SUCCEEDED
    assert len({r.headers["webhook-id"] for r in hook.requests}) == 1


def test_disable_and_enable_actions(staff, dead) -> None:
    _, endpoint, _, _ = dead
    url = reverse("admin:webhooks_webhookendpoint_changelist")

    staff.post(url, {"action": "disable_endpoints", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled
    staff.post(url, {"action": "enable_endpoints", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.is_enabled and endpoint.consecutive_failures == 0
    assert WebhookEndpoint.objects.count() == 1
    assert Delivery.objects.count() == 1
