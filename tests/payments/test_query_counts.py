"""How many SQL statements the hot requests cost: a regression fails here, not in a timing.

Transactional, so that the statements are the ones production runs (BEGIN and COMMIT
included, no test savepoints). Each case makes one request first, so that the API key's
last_used_at (written at most once a minute) is fresh.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"amount": "150.00", "msisdn": "0961234567"}


def _create(api, external_id: str, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(
        "/api/v1/payments", {**BODY, "external_id": external_id}, format="json", **headers
    )


def _sql(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def test_a_create_is_9_statements_and_one_commit(api, django_assert_max_num_queries) -> None:
    _create(api, "warm-up", key="k-0")

    # API key, rate-limit counter, replay look-up; BEGIN, claim, the tenant's operator
    # configuration, one statement for the payment (its fee from the schedule), its audit row
    # and its job, stored answer, COMMIT.
    with django_assert_max_num_queries(9) as captured:
        created = _create(api, "order-1", key="k-1")

    assert created.status_code == 201
    assert _sql(captured).count("COMMIT") == 1


def test_a_create_without_a_key_is_6_statements(api, django_assert_max_num_queries) -> None:
    _create(api, "warm-up")

    # API key, rate-limit counter; BEGIN, the operator configuration, the one statement,
    # COMMIT.
    with django_assert_max_num_queries(6) as captured:
        created = _create(api, "order-1")

    assert created.status_code == 201
    assert _sql(captured).count("COMMIT") == 1


def test_a_replay_is_3_statements_and_no_transaction(api, django_assert_max_num_queries) -> None:
    _create(api, "order-1", key="k-1")

    with django_assert_max_num_queries(3) as captured:
        again = _create(api, "order-1", key="k-1")

    assert again["Idempotent-Replayed"] == "true"
    assert "BEGIN" not in _sql(captured)


def test_a_retrieve_is_3_statements(api, django_assert_max_num_queries) -> None:
    public_id = _create(api, "order-1").json()["id"]

    with django_assert_max_num_queries(3):
        found = api.get(f"/api/v1/payments/{public_id}")

    assert found.status_code == 200


def test_a_list_page_is_3_statements(api, django_assert_max_num_queries) -> None:
    for index in range(30):
        _create(api, f"order-{index}")

    with django_assert_max_num_queries(3):
        page = api.get("/api/v1/payments")

    assert page.status_code == 200 and len(page.json()["data"]) == 25


def test_a_daily_cap_costs_one_upsert_and_a_savepoint(api, test_key, django_assert_max_num_queries):
    from providers.models import OperatorConfig

    OperatorConfig.objects.create(
        tenant=test_key.api_key.tenant,
        mode="test",
        provider="mtn",
        collection_daily_cap=Decimal("1000000.00"),
    )
    _create(api, "warm-up", key="k-0")

    # The 9 above, and SAVEPOINT, the usage upsert, RELEASE.
    with django_assert_max_num_queries(12) as captured:
        created = _create(api, "order-1", key="k-1")

    assert created.status_code == 201
    assert sum("providers_dailyusage" in sql for sql in _sql(captured)) == 1
