"""Callback routes are per operator: /api/v1/webhooks/<provider>/…, each adapter verifying
its own operator's callbacks, and one operator's token never finds another's payment."""

from __future__ import annotations

import pytest
from django.test import Client

from providers.base import Provider
from tests.payments.factories import PaymentFactory
from tests.problem import assert_problem
from webhooks.models import InboundCallback

CLAIM = b'{"externalId": "order-1", "status": "SUCCESSFUL"}'


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["nope", "MTN", "beeline"])
def test_an_unknown_operator_is_404_and_nothing_is_stored(provider) -> None:
    payment = PaymentFactory.create()

    answer = Client().post(
        f"/api/v1/webhooks/{provider}/{payment.callback_token}",
        CLAIM,
        content_type="application/json",
    )

    assert_problem(answer, 404, "unknown_callback_token")
    assert not InboundCallback.objects.exists()
    assert Client().get(f"/api/v1/webhooks/{provider}/health").status_code == 404


@pytest.mark.django_db
def test_a_token_under_another_operators_route_finds_nothing() -> None:
    payment = PaymentFactory.create()
    assert payment.provider == Provider.MTN

    for provider in ("airtel", "zamtel"):
        answer = Client().post(
            f"/api/v1/webhooks/{provider}/{payment.callback_token}",
            CLAIM,
            content_type="application/json",
        )
        assert answer.status_code == 404
    assert not InboundCallback.objects.exists()


@pytest.mark.django_db
def test_a_token_route_without_a_token_is_404_for_per_payment_operators() -> None:
    PaymentFactory.create()

    answer = Client().post("/api/v1/webhooks/mtn", CLAIM, content_type="application/json")

    assert_problem(answer, 404, "unknown_callback_token")


@pytest.mark.django_db
def test_the_mtn_secret_is_checked_by_mtns_adapter_only(settings) -> None:
    from providers import registry

    settings.MTN_WEBHOOK_SECRET = "s3cret"
    settings.AIRTEL = {
        **settings.AIRTEL,
        "test": {**settings.AIRTEL["test"], "CALLBACK_HASH_KEY": ""},
    }
    settings.ZAMTEL = {
        **settings.ZAMTEL,
        "test": {**settings.ZAMTEL["test"], "CALLBACK_SECRET": ""},
    }
    adapter = registry.get_adapter("mtn", "test")

    assert adapter.verify_callback({}, CLAIM) is False
    for provider in registry.supported():
        if provider is not Provider.MTN:
            assert registry.get_adapter(provider, "test").verify_callback({}, CLAIM) is None
