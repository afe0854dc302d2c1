"""A payment that becomes final reaches every matching endpoint once, signed so that an
independent Standard Webhooks implementation (the `standardwebhooks` package) verifies it,
and nothing forged, altered, stale or signed with another secret verifies."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from audit.services import SYSTEM
from payments import services as payments
from payments.models import Status
from tenants.models import Mode
from tests import live
from tests.payments.factories import PaymentFactory
from tests.tenants.factories import TenantFactory
from tests.webhooks.outbound.factories import endpoint_for, fanned_out, final_payment_event
from webhooks.outbound import services, signing
from webhooks.outbound.models import Delivery, DeliveryState, Event, WebhookEndpoint


def _verify(secret: str, request) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


@pytest.mark.django_db(transaction=True)  # a real worker needs committed rows
def test_a_final_payment_is_delivered_once_signed_to_each_matching_endpoint(receiver) -> None:
    tenant = TenantFactory.create()
    everything, fan, other = receiver(), receiver(), receiver()
    _, secret_all = endpoint_for(tenant, everything.url())
    _, secret_success = endpoint_for(tenant, fan.url(), events=["payment.succeeded"])
    # Not for this event: another type, the tenant's live mode, another tenant.
    endpoint_for(tenant, other.url("/refunds"), events=["refund.succeeded"])
    endpoint_for(tenant, other.url("/live"), mode=Mode.LIVE)
    endpoint_for(TenantFactory.create(), other.url("/someone-else"))
    payment = PaymentFactory.create(tenant=tenant)

    with transaction.atomic():
        payments.transition_payment(
            payment=payment, status=Status.SUCCESSFUL, provider_transaction_id="123"
        )
    live.run_worker(queues=["scheduler", "webhooks"], concurrency=2)
    live.run_worker(queues=["scheduler", "webhooks"], concurrency=2)  # nothing more to send

    event = Event.objects.get(payment=payment)
    assert [len(everything.requests), len(fan.requests), len(other.requests)] == [1, 1, 0]
    for got, secret in ((everything.requests[0], secret_all), (fan.requests[0], secret_success)):
        assert got.headers["webhook-id"] == event.public_id
        assert got.headers["content-type"] == "application/json"
        assert got.body == event.body.encode()
        body = _verify(secret, got)
        assert body["type"] == "payment.succeeded"
        assert body["data"]["id"] == payment.public_id
        assert body["data"]["status"] == "SUCCESSFUL"
        assert body["data"]["provider_transaction_id"] == "123"
    deliveries = Delivery.objects.filter(event=event)
    assert deliveries.count() == 2
    assert {d.state for d in deliveries} == {DeliveryState.SUCCEEDED}
    assert {d.attempts for d in deliveries} == {1}


@pytest.mark.django_db
def test_tampered_body_wrong_secret_and_old_timestamp_fail_verification(merchant, receiver) -> None:
    hook = receiver()
    _, secret = endpoint_for(merchant.api_key.tenant, hook.url())
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))
    services.deliver(delivery_id=delivery.pk)
    (got,) = hook.requests
    assert _verify(secret, got)["id"] == got.headers["webhook-id"]

    tampered = got.body.replace(b'"SUCCESSFUL"', b'"FAILED"')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(got.body, got.headers)
    six_minutes_ago = int(time.time()) - 360
    stale = {
        **got.headers,
        **signing.headers(
            secrets=[secret],
            msg_id=got.headers["webhook-id"],
            timestamp=six_minutes_ago,
            body=got.body,
        ),
    }
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(got.body, stale)


@pytest.mark.django_db
def test_during_a_rotation_both_secrets_verify_then_only_the_new_one(
    merchant, receiver, clock
) -> None:
    hook = receiver()
    endpoint, old = endpoint_for(merchant.api_key.tenant, hook.url())
    rotated = services.rotate_webhook_secret(endpoint=endpoint, actor=SYSTEM)
    new = rotated.secret

    services.ping_webhook_endpoint(endpoint=rotated.endpoint)

    got = hook.requests[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2  # two v1 signatures
    assert _verify(old, got)["type"] == "ping"
    assert _verify(new, got)["type"] == "ping"

    clock.advance(hours=24, seconds=1)  # the grace is over
    services.ping_webhook_endpoint(endpoint=rotated.endpoint)
    got = hook.requests[-1]
    headers = {**got.headers, "webhook-timestamp": str(int(clock.now.timestamp()))}
    signatures = got.headers["webhook-signature"].split(" ")
    assert len(signatures) == 1
    expected = signing.signature(
        secret=new,
        msg_id=got.headers["webhook-id"],
        timestamp=int(headers["webhook-timestamp"]),
        body=got.body,
    )
    assert signatures == [expected]
    assert (
        signing.signature(
            secret=old,
            msg_id=got.headers["webhook-id"],
            timestamp=int(headers["webhook-timestamp"]),
            body=got.body,
        )
        not in signatures
    )


@pytest.mark.django_db
def test_the_signature_is_base64_hmac_sha256_of_id_timestamp_and_body() -> None:
    """The scheme itself, against the example of the Standard Webhooks specification."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, timestamp = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
    body = b'{"test": 2432232314}'

    assert (
        signing.signature(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    key = base64.b64decode(secret.removeprefix("whsec_"))
    assert len(key) == 24


@pytest.mark.django_db
def test_the_readme_verification_example_accepts_ours_and_refuses_a_forgery(
    merchant, receiver
) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    start = readme.index("import base64, hashlib, hmac, time")
    example: dict = {}
    exec(readme[start : readme.index("```", start)], example)  # noqa: S102  # our own README
    hook = receiver()
    _, secret = endpoint_for(merchant.api_key.tenant, hook.url())
    rotated = services.rotate_webhook_secret(
        endpoint=WebhookEndpoint.objects.get(), actor=SYSTEM
    ).secret
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))
    services.deliver(delivery_id=delivery.pk)
    (got,) = hook.requests

    assert example["verify"](secret, got.headers, got.body)
    assert example["verify"](rotated, got.headers, got.body)
    assert not example["verify"](secret, got.headers, got.body + b" ")
    assert not example["verify"](signing.new_secret(), got.headers, got.body)
