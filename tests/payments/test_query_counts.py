"""How many SQL statements the hot requests cost: a regression fails here, not in a timing.

Transactional, so that the statements are the ones production runs (BEGIN and COMMIT
included, no test savepoints). Each case makes one request first, so that the API key's
last_used_at (written at most once a minute) is fresh.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from audit.services import SYSTEM
from payments import services
from payments.models import Flow, Status
from providers import registry
from providers.sandbox.airtel import services as airtel_simulator
from tests.payments.factories import PaymentFactory, airtel_collection
from tests.providers.airtel.conftest import config as airtel_config
from tests.providers.mtn.fake import mtn_with_tokens
from tests.providers.zamtel.conftest import config as zamtel_config

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


# --- submissions: what a worker's submit job costs ------------------------------------------

MTN_BASE = "http://127.0.0.1:1/mtn"  # never reached: `responses` answers every call
AIRTEL_BASE = "http://127.0.0.1:1/airtel"
ZAMTEL_BASE = "http://127.0.0.1:1/zamtel"
AIRTEL_PENDING = {
    "data": {"transaction": {"id": "x", "status": "SUCCESS"}},
    "status": {"code": "200", "response_code": "DP00800001006", "success": True},
}
AIRTEL_REFUNDED = {
    "data": {"transaction": {"airtel_money_id": "MP250101.1300.R1", "status": "SUCCESS"}},
    "status": {"code": "200", "response_code": "DP00800001001", "success": True},
}


@pytest.fixture
def operators(settings):
    settings.MTN = {**settings.MTN, "test": {**settings.MTN["test"], "BASE_URL": MTN_BASE}}
    # Airtel's RSA key (the payout PIN is encrypted with it) given, not fetched.
    key = airtel_simulator.key_pair().public_der_b64
    settings.AIRTEL = {
        **settings.AIRTEL,
        "test": airtel_config(AIRTEL_BASE, API_VERSION="v1", PUBLIC_KEY=key),
    }
    settings.ZAMTEL = {**settings.ZAMTEL, "test": zamtel_config(ZAMTEL_BASE)}
    with mtn_with_tokens(MTN_BASE) as fake:
        fake.post(
            f"{AIRTEL_BASE}/auth/oauth2/token",
            json={"access_token": "tok", "expires_in": "180", "token_type": "bearer"},
        )
        fake.post(f"{MTN_BASE}/collection/v1_0/requesttopay", status=202)
        fake.post(f"{AIRTEL_BASE}/merchant/v1/payments/", json=AIRTEL_PENDING)
        fake.post(f"{AIRTEL_BASE}/standard/v1/disbursements/", json=AIRTEL_PENDING)
        fake.post(f"{ZAMTEL_BASE}/v2/deposits", json={"depositId": "x", "status": "ACCEPTED"})
        fake.post(f"{AIRTEL_BASE}/standard/v1/payments/refund", json=AIRTEL_REFUNDED)
        yield fake


def _submit(payment, django_assert_max_num_queries, bound: int) -> list[str]:
    """The statements run between the claim's read and the transaction that records the
    answer: what is written before the operator is called."""
    registry.reset()  # each adapter starts cold, as in a new worker
    with django_assert_max_num_queries(bound) as captured:
        services.submit_payment(payment_id=payment.pk)
    sql = _sql(captured)
    # The outside-a-transaction check (BEGIN, COMMIT), the claim's UPDATE and its read.
    assert sql[:2] == ["BEGIN", "COMMIT"] and sql[2].startswith("UPDATE")
    return sql[4 : sql.index("BEGIN", 2)]


@pytest.mark.parametrize(
    ("provider", "msisdn", "flow"),
    [
        ("mtn", "260961234567", Flow.COLLECTION),
        ("airtel", "260971234567", Flow.COLLECTION),
        ("airtel", "260971234567", Flow.DISBURSEMENT),
        ("zamtel", "260951234567", Flow.COLLECTION),
    ],
)
def test_a_submission_the_operator_can_be_asked_about_is_9_statements_and_logs_no_intent(
    operators, django_assert_max_num_queries, provider, msisdn, flow
) -> None:
    payment = PaymentFactory.create(provider=provider, msisdn=msisdn, flow=flow)

    # Outside-a-transaction check (2), claim, read; then BEGIN, lock, the provider call's row,
    # progress, COMMIT. The operator can be asked about it: nothing is written before the send.
    before_send = _submit(payment, django_assert_max_num_queries, 9)

    assert before_send == []
    payment.refresh_from_db()
    assert payment.send_started_at is None


def test_an_airtel_refund_submission_pays_one_committed_intent_write_before_the_send(
    operators, django_assert_max_num_queries
) -> None:
    collection = airtel_collection()
    refund = services.create_refund(payment=collection, actor=SYSTEM)

    # As a collection's 9, plus the intent, plus the final status's ledger postings, audit
    # row and merchant event (12): Airtel answers a refund at once.
    [intent] = _submit(refund, django_assert_max_num_queries, 22)

    assert intent.startswith('UPDATE "payments_payment" SET "send_started_at" = ')
    assert " WHERE " in intent and ", " not in intent.split(" WHERE ")[0]  # that column only
    refund.refresh_from_db()
    assert refund.status == Status.SUCCESSFUL
