"""GET /api/v1/providers: each operator's configuration and its availability, driven here to
each state by the Transaction rows and breaker state that production writes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from audit.models import AuditLog
from audit.services import SYSTEM
from payments import availability
from payments.models import Transaction
from providers import breakers
from providers.models import AvailabilityOverride, OperatorConfig
from tests.payments.factories import PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _calls(
    outcomes: list[str],
    *,
    provider: str = "mtn",
    operation: str = "request_payment",
    duration_ms: float = 120.0,
    age: timedelta | None = None,
) -> None:
    payment = PaymentFactory.create(provider=provider)
    rows = Transaction.objects.bulk_create(
        Transaction(
            payment=payment,
            provider=provider,
            mode="test",
            operation=operation,
            method="POST",
            url="https://operator.example/pay",
            outcome=outcome,
            duration_ms=duration_ms,
        )
        for outcome in outcomes
    )
    if age is not None:
        Transaction.objects.filter(pk__in=[row.pk for row in rows]).update(
            created_at=timezone.now() - age
        )


def _state(operation: str = "collection", provider: str = "mtn") -> str:
    cache.delete(f"availability:{provider}:test")  # not the breakers' state, in the same cache
    return availability.get_availability(provider=provider, mode="test")[operation].state


def test_no_recent_calls_is_operational() -> None:
    assert _state() == "OPERATIONAL"


def test_success_rate_drives_delayed_and_closed() -> None:
    _calls(["pending"] * 9 + ["retryable"])  # 90 %: still operational
    assert _state() == "OPERATIONAL"

    _calls(["outcome_unknown"] * 2)  # 9 of 12: 75 %
    assert _state() == "DELAYED"

    _calls(["retryable"] * 8)  # 9 of 20: 45 %
    assert _state() == "CLOSED"
    # Per operation: payouts to the same operator are not affected.
    assert _state("disbursement") == "OPERATIONAL"


def test_business_refusals_are_not_failures_of_the_operator() -> None:
    _calls(["failed"] * 10 + ["permanent"] * 10)

    assert _state() == "OPERATIONAL"


def test_too_few_calls_say_nothing(settings) -> None:
    settings.PROVIDER_AVAILABILITY_MIN_CALLS = 10
    _calls(["retryable"] * 9)

    assert _state() == "OPERATIONAL"


def test_calls_older_than_the_window_do_not_count(settings) -> None:
    _calls(
        ["retryable"] * 20, age=timedelta(seconds=settings.PROVIDER_AVAILABILITY_WINDOW_SECONDS + 5)
    )

    assert _state() == "OPERATIONAL"


def test_slow_successful_calls_are_delayed(settings) -> None:
    settings.PROVIDER_AVAILABILITY_DELAYED_LATENCY_MS = 2000
    _calls(["pending"] * 3, duration_ms=2500)

    assert _state() == "DELAYED"


def test_an_open_breaker_closes_the_operator_until_its_cool_down_ends(settings) -> None:
    breakers.publish("airtel", "test", "open")
    assert _state(provider="airtel") == "CLOSED"
    assert _state("refund", provider="airtel") == "CLOSED"

    settings.AIRTEL_BREAKER_RESET_SECONDS = 0  # the cool-down is over: it probes
    assert _state(provider="airtel") == "DELAYED"

    breakers.publish("airtel", "test", "closed")
    assert _state(provider="airtel") == "OPERATIONAL"


def test_an_override_wins_until_it_expires_or_ends() -> None:
    _calls(["retryable"] * 20)
    override = availability.set_override(
        provider="mtn",
        mode="test",
        operation="",
        state="OPERATIONAL",
        reason="MTN confirmed the errors are on their status page only",
        expires_at=None,
        actor=SYSTEM,
    )
    assert _state() == "OPERATIONAL"
    assert _state("disbursement") == "OPERATIONAL"

    availability.end_override(override=override, actor=SYSTEM)
    assert _state() == "CLOSED"

    AvailabilityOverride.objects.create(
        provider="mtn",
        mode="test",
        state="OPERATIONAL",
        reason="expired already",
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert _state() == "CLOSED"
    assert list(
        AuditLog.objects.filter(action__startswith="availability_override")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["availability_override.created", "availability_override.ended"]


def test_an_operation_override_beats_one_for_every_operation() -> None:
    for operation, state in (("", "DELAYED"), ("disbursement", "CLOSED")):
        availability.set_override(
            provider="zamtel",
            mode="test",
            operation=operation,
            state=state,
            reason="maintenance window",
            expires_at=timezone.now() + timedelta(hours=1),
            actor=SYSTEM,
        )

    assert _state("disbursement", provider="zamtel") == "CLOSED"
    assert _state("collection", provider="zamtel") == "DELAYED"


def test_availability_is_cached_briefly(django_assert_max_num_queries) -> None:
    cache.clear()
    availability.get_availability(provider="mtn", mode="test")
    _calls(["retryable"] * 20)

    with django_assert_max_num_queries(1):  # the cache read
        cached = availability.get_availability(provider="mtn", mode="test")

    assert cached["collection"].state == "OPERATIONAL"


def test_the_admin_creates_an_audited_override(staff) -> None:
    response = staff.post(
        "/admin/providers/availabilityoverride/add/",
        {
            "provider": "airtel",
            "mode": "test",
            "operation": "disbursement",
            "state": "CLOSED",
            "reason": "Airtel disbursements down (ticket 4411)",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )

    assert response.status_code == 302, response.content
    override = AvailabilityOverride.objects.get()
    assert override.created_by is not None
    assert _state("disbursement", provider="airtel") == "CLOSED"
    assert AuditLog.objects.get(action="availability_override.created").data["reason"] == (
        "Airtel disbursements down (ticket 4411)"
    )


def test_the_providers_endpoint_lists_each_operator_for_the_callers_tenant_and_mode(
    api, test_key
) -> None:
    OperatorConfig.objects.create(
        tenant=test_key.api_key.tenant,
        mode="test",
        provider="zamtel",
        enabled=False,
        collection_max=Decimal("500.00"),
        disbursement_daily_cap=Decimal("20000.00"),
    )
    _calls(["retryable"] * 20, provider="airtel")

    body = api.get("/api/v1/providers").json()

    assert body["object"] == "list" and body["mode"] == "test"
    operators = {operator["provider"]: operator for operator in body["data"]}
    assert list(operators) == ["mtn", "airtel", "zamtel"]
    mtn, airtel, zamtel = operators["mtn"], operators["airtel"], operators["zamtel"]
    assert mtn["enabled"] is True and mtn["allow_fallback"] is False
    assert mtn["prefixes"] == ["056", "076", "096"]
    assert mtn["limits"]["collection"] == {"min": None, "max": None, "daily_cap": None}
    assert mtn["capabilities"]["ussd_code"] and mtn["capabilities"]["decimals"] == 2
    assert mtn["availability"]["collection"]["state"] == "OPERATIONAL"
    assert airtel["capabilities"]["refunds"] == "whole"
    assert airtel["availability"]["collection"] == {
        "state": "CLOSED",
        "reason": "failing",
        "calls": 20,
        "success_rate": 0.0,
        "latency_ms": None,
        "override_expires_at": None,
    }
    assert zamtel["enabled"] is False
    assert zamtel["limits"]["collection"]["max"] == "500.00"
    assert zamtel["limits"]["disbursement"]["daily_cap"] == "20000.00"


def test_another_tenants_configuration_is_not_shown(api) -> None:
    OperatorConfig.objects.create(
        tenant=PaymentFactory.create().tenant, mode="test", provider="mtn", enabled=False
    )

    operators = api.get("/api/v1/providers").json()["data"]

    assert all(operator["enabled"] for operator in operators)


def test_the_schema_documents_the_providers_endpoint(client) -> None:
    schema = client.get("/api/schema/?format=json").json()

    assert "/api/v1/providers" in schema["paths"]
    assert "/api/v1/payments/{public_id}/cancel" in schema["paths"]
    assert "OperatorList" in schema["components"]["schemas"]
