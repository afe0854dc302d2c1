"""What each answer of the merchant's server means: 2xx delivered; 3xx a failure, never
followed; 410 disables the endpoint; 429/503 with Retry-After wait that long; a server that
never answers is cut at the read timeout while the worker goes on with other work."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import transaction

from payments import services as payments
from payments.models import Status
from tests import live
from tests.payments.factories import PaymentFactory
from tests.tenants.factories import TenantFactory
from tests.webhooks.outbound.factories import attempt, endpoint_for, fanned_out, final_payment_event
from webhooks.outbound.models import Delivery, DeliveryState


def _one_attempt(merchant, hook):
    endpoint_for(merchant.api_key.tenant, hook.url())
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))
    result = attempt(delivery.pk)
    assert result is not None
    return result


@pytest.mark.django_db
@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_a_success(merchant, receiver, status) -> None:
    hook = receiver()
    hook.always(status)

    delivery = _one_attempt(merchant, hook)

    assert (delivery.state, delivery.last_status, delivery.last_error) == (
        DeliveryState.SUCCEEDED,
        status,
        "",
    )
    assert delivery.succeeded_at is not None and delivery.next_attempt_at is None
    assert delivery.duration_ms is not None and delivery.duration_ms > 0


@pytest.mark.django_db
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failure_and_is_not_followed(merchant, receiver, clock, status) -> None:
    hook, elsewhere = receiver(), receiver()
    hook.always(status, {"Location": elsewhere.url("/stolen")})

    delivery = _one_attempt(merchant, hook)

    assert (delivery.state, delivery.last_status) == (DeliveryState.FAILED, status)
    assert elsewhere.connections == 0
    assert delivery.next_attempt_at - clock.now <= timedelta(seconds=5.5)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [400, 401, 404, 409, 500, 502, 504])
def test_other_statuses_are_retried_on_the_schedule(merchant, receiver, clock, status) -> None:
    hook = receiver()
    hook.always(status)

    delivery = _one_attempt(merchant, hook)

    assert (delivery.state, delivery.last_status) == (DeliveryState.FAILED, status)
    assert timedelta(seconds=4.5) <= delivery.next_attempt_at - clock.now <= timedelta(seconds=5.5)


@pytest.mark.django_db
def test_410_gone_disables_the_endpoint_and_buries_its_other_deliveries(merchant, receiver) -> None:
    hook = receiver()
    hook.always(410)
    endpoint, _ = endpoint_for(merchant.api_key.tenant, hook.url())
    (first,) = fanned_out(final_payment_event(merchant.api_key.tenant))
    (second,) = fanned_out(final_payment_event(merchant.api_key.tenant))

    first = attempt(first.pk)
    second = attempt(second.pk)

    assert (first.state, first.last_status) == (DeliveryState.DEAD, 410)
    endpoint.refresh_from_db()
    assert not endpoint.is_enabled
    assert endpoint.disabled_reason == "The endpoint answered 410 Gone."
    assert second.state == DeliveryState.DEAD
    assert second.last_error == "The endpoint is disabled."
    assert len(hook.requests) == 1  # the second was never sent
    third = final_payment_event(merchant.api_key.tenant)
    assert fanned_out(third) == []  # a disabled endpoint gets no new deliveries


@pytest.mark.django_db
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(merchant, receiver, clock, status) -> None:
    hook = receiver()
    hook.always(status, {"Retry-After": "3600"})

    delivery = _one_attempt(merchant, hook)

    assert delivery.state == DeliveryState.FAILED
    assert delivery.next_attempt_at - clock.now == timedelta(seconds=3600)


@pytest.mark.django_db
def test_a_retry_after_date_and_a_short_retry_after(merchant, receiver, clock) -> None:
    hook = receiver()
    hook.always(429, {"Retry-After": "1"})  # sooner than the schedule: the schedule wins

    delivery = _one_attempt(merchant, hook)

    assert timedelta(seconds=4.5) <= delivery.next_attempt_at - clock.now <= timedelta(seconds=5.5)
    from webhooks.outbound.client import _retry_after

    assert 590 < (_retry_after(_http_date(600)) or 0) <= 600
    assert _retry_after("soon") is None


@pytest.mark.django_db
def test_a_long_answer_is_kept_as_a_1_kb_excerpt(merchant, receiver) -> None:
    hook = receiver()
    hook.always(500, body=b"x" * 5000 + b"\x00\xff")

    delivery = _one_attempt(merchant, hook)

    assert delivery.response_excerpt == "x" * 1024


@pytest.mark.django_db
def test_a_receiver_that_is_down_is_a_connection_failure(merchant, receiver) -> None:
    hook = receiver()
    url = hook.url()
    hook.close()  # nothing listens there any more
    endpoint_for(merchant.api_key.tenant, url)
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))

    delivery = attempt(delivery.pk)

    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_status is None
    assert delivery.last_error.startswith("connect:")


@pytest.mark.django_db(transaction=True)  # a real worker, two threads
def test_a_receiver_that_never_answers_is_cut_at_the_timeout_and_others_go_on(
    receiver, settings
) -> None:
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 2.0
    hanging, fast = receiver(), receiver()
    hanging.hang()
    endpoint_for(TenantFactory.create(), hanging.url())
    other_merchant = TenantFactory.create()
    endpoint_for(other_merchant, fast.url())
    stuck = PaymentFactory.create(tenant=hanging_tenant(hanging))
    quick = [PaymentFactory.create(tenant=other_merchant) for _ in range(3)]
    with transaction.atomic():
        for payment in [stuck, *quick]:
            payments.transition_payment(payment=payment, status=Status.SUCCESSFUL)

    started = time.monotonic()
    live.run_worker(queues=["scheduler", "webhooks"], concurrency=2)
    took = time.monotonic() - started

    assert len(fast.requests) == 3
    assert all(request.at - started < 1.5 for request in fast.requests)  # not behind it
    cut = Delivery.objects.get(event__payment=stuck)
    assert cut.state == DeliveryState.FAILED
    assert cut.last_error == "timeout: no answer within 2 s"
    assert 1900 <= (cut.duration_ms or 0) < 3500
    assert took < 6


def hanging_tenant(hook):
    from webhooks.outbound.models import WebhookEndpoint

    return WebhookEndpoint.objects.get(url=hook.url()).tenant


def _http_date(seconds_ahead: int) -> str:
    import email.utils

    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)
