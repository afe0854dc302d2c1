"""A tenant's operator configuration at creation: enabled operators, limits, daily caps."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from audit.models import AuditLog
from audit.services import SYSTEM
from payments import services
from payments.models import Payment, Status
from providers.base import FailureCode
from providers.models import DailyUsage, OperatorConfig
from tests.payments.factories import fund
from tests.problem import assert_problem
from tests.tenants.factories import issue_key

BODY = {"amount": "150.00", "msisdn": "0961234567"}


def _create(api, external_id: str, **extra):
    return api.post(
        "/api/v1/payments", {**BODY, "external_id": external_id, **extra}, format="json"
    )


def _configure(tenant, provider: str = "mtn", **fields) -> OperatorConfig:
    return OperatorConfig.objects.create(tenant=tenant, mode="test", provider=provider, **fields)


@pytest.mark.django_db
def test_a_payment_to_a_disabled_operator_is_422_operator_disabled_and_changes_nothing(
    api, test_key
) -> None:
    _configure(test_key.api_key.tenant, enabled=False)

    problem = assert_problem(_create(api, "order-1"), 422, "operator_disabled")

    assert problem["provider"] == "mtn"
    assert not Payment.objects.exists()
    # Another operator of the same tenant, and the same operator for another tenant, still work.
    assert _create(api, "order-2", msisdn="0971234567").status_code == 201
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key().secret}")
    assert _create(other, "order-1").status_code == 201


@pytest.mark.django_db
def test_a_disabled_operator_in_live_mode_leaves_test_mode_enabled(api, test_key) -> None:
    OperatorConfig.objects.create(
        tenant=test_key.api_key.tenant, mode="live", provider="mtn", enabled=False
    )

    assert _create(api, "order-1").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "allowed"), [("9.99", False), ("10.00", True), ("500.00", True), ("500.01", False)]
)
def test_amounts_outside_the_operations_min_and_max_are_400_on_amount(
    api, test_key, amount, allowed
) -> None:
    _configure(test_key.api_key.tenant, collection_min=Decimal(10), collection_max=Decimal(500))

    response = _create(api, "order-1", amount=amount)

    if allowed:
        assert response.status_code == 201
    else:
        problem = assert_problem(response, 400, "validation_error")
        assert problem["errors"][0]["field"] == "amount"
        assert not Payment.objects.exists()


@pytest.mark.django_db
def test_limits_are_per_operation(api, test_key) -> None:
    tenant = test_key.api_key.tenant
    fund(tenant)
    _configure(tenant, disbursement_max=Decimal(100))

    assert _create(api, "order-1", amount="150.00").status_code == 201  # a collection
    assert_problem(_create(api, "payout-1", flow="disbursement"), 400, "validation_error")


@pytest.mark.django_db
def test_a_daily_cap_refuses_the_payment_that_would_pass_it(api, test_key) -> None:
    tenant = test_key.api_key.tenant
    _configure(tenant, collection_daily_cap=Decimal("400.00"))

    assert _create(api, "order-1").status_code == 201
    assert _create(api, "order-2").status_code == 201
    problem = assert_problem(_create(api, "order-3"), 422, "daily_cap_exceeded")

    assert problem["daily_cap"] == "400.00" and problem["retryable"] is True
    assert Payment.objects.count() == 2
    assert DailyUsage.objects.get().total == Decimal("300.00")
    # What is left still fits.
    assert _create(api, "order-4", amount="100.00").status_code == 201


@pytest.mark.django_db
def test_a_failed_payment_stops_counting_against_the_cap(api, test_key) -> None:
    _configure(test_key.api_key.tenant, collection_daily_cap=Decimal("300.00"))
    first = Payment.objects.get(public_id=_create(api, "order-1").json()["id"])
    _create(api, "order-2")

    services.transition_payment(
        payment=first, status=Status.FAILED, failure_code=FailureCode.PAYER_DECLINED
    )

    assert DailyUsage.objects.get().total == Decimal("150.00")
    assert _create(api, "order-3").status_code == 201


@pytest.mark.django_db
def test_a_refused_create_counts_nothing_against_the_cap(api, test_key) -> None:
    _configure(test_key.api_key.tenant, disbursement_daily_cap=Decimal("1000.00"))

    # No balance: 402, and the reservation's refusal rolls the cap's count back with it.
    assert_problem(_create(api, "payout-1", flow="disbursement"), 402, "insufficient_balance")
    assert _create(api, "order-1").status_code == 201
    assert_problem(_create(api, "order-1"), 409, "duplicate_external_id")

    assert not DailyUsage.objects.filter(total__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_a_daily_cap_is_exact_under_concurrent_creates() -> None:
    issued = issue_key()
    _configure(issued.api_key.tenant, collection_daily_cap=Decimal("1000.00"))
    barrier = threading.Barrier(12)
    statuses: list[int] = []

    def create(index: int) -> None:
        from django.db import connection

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
        barrier.wait()
        try:
            response = client.post(
                "/api/v1/payments",
                {**BODY, "external_id": f"order-{index}"},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"key-{index}",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 6 x 150 = 900 fit under 1000; a 7th would make 1050.
    assert sorted(statuses) == [201] * 6 + [422] * 6
    assert Payment.objects.count() == 6
    assert DailyUsage.objects.get().total == Decimal("900.00")


@pytest.mark.django_db
def test_a_refund_goes_to_its_collections_operator_even_when_disabled_since(test_key) -> None:
    from tests.payments.factories import PaymentFactory

    tenant = test_key.api_key.tenant
    fund(tenant)
    collected = PaymentFactory.create(tenant=tenant, provider="airtel", msisdn="260961234567")
    services.transition_payment(payment=collected, status=Status.SUCCESSFUL)
    _configure(tenant, provider="airtel", enabled=False)

    refund = services.create_refund(payment=collected, actor=SYSTEM)

    assert refund.provider == "airtel"
    assert refund.routing == {"predicted": "mtn", "chosen": "airtel", "reason": "refund_of"}


@pytest.mark.django_db
def test_configuration_changes_in_the_admin_are_audited(staff, test_key) -> None:
    tenant = test_key.api_key.tenant
    response = staff.post(
        "/admin/providers/operatorconfig/add/",
        {"tenant": tenant.pk, "mode": "test", "provider": "zamtel", "collection_max": "50.00"},
    )

    assert response.status_code == 302, response.content
    config = OperatorConfig.objects.get()
    assert config.collection_max == Decimal("50.00") and config.enabled is False  # unticked box
    entry = AuditLog.objects.get(action="operator_config.created")
    assert entry.data["collection"]["max"] == "50.00"
