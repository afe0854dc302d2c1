from __future__ import annotations

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from payments.models import Payment
from tenants.models import Mode
from tests.payments.factories import PaymentFactory
from tests.problem import assert_problem
from tests.tenants.factories import TenantFactory, issue_key

pytestmark = pytest.mark.django_db

BODY = {"amount": "150.00", "msisdn": "0961234567", "external_id": "order-1042"}


def test_create_collection_answers_201_pending_and_defers_its_submission(api, test_key) -> None:
    response = api.post(
        "/api/v1/payments",
        {**BODY, "description": "Order 1042", "metadata": {"cart": "42"}},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    payment = Payment.objects.get(public_id=body["id"])
    assert body["id"].startswith("pay_") and len(body["id"]) == 28
    assert body["object"] == "payment"
    assert {k: body[k] for k in ("flow", "status", "amount", "currency", "msisdn", "provider")} == {
        "flow": "collection",
        "status": "PENDING",
        "amount": "150.00",
        "currency": "ZMW",
        "msisdn": "260961234567",
        "provider": "mtn",
    }
    assert body["provider_reference"] == str(payment.provider_reference)
    assert body["mode"] == "test" and body["metadata"] == {"cart": "42"}
    assert body["failure_code"] is None and body["completed_at"] is None
    assert payment.tenant_id == test_key.api_key.tenant_id
    job = ProcrastinateJob.objects.get(task_name="payments.submit_payment")
    assert job.args == {"payment_id": payment.pk}


@pytest.mark.parametrize("spelling", ["+260 96 123 4567", "961234567", "260961234567"])
def test_msisdn_spellings_and_payer_alias(api, spelling) -> None:
    response = api.post(
        "/api/v1/payments", {"amount": 10, "payer": spelling, "external_id": "x1"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["msisdn"] == "260961234567"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "10.123"}, "amount"),
        ({"amount": "100000.01"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"msisdn": "0211234567"}, "msisdn"),
        ({"msisdn": None}, "msisdn"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 65}, "external_id"),
        ({"description": "d" * 161}, "description"),
        ({"metadata": {f"k{i}": i for i in range(21)}}, "metadata"),
        ({"flow": "refund"}, "flow"),
    ],
)
def test_invalid_fields_are_400_with_field_errors_and_change_nothing(api, change, field) -> None:
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}

    problem = assert_problem(
        api.post("/api/v1/payments", body, format="json"), 400, "validation_error"
    )

    assert field in {error["field"] for error in problem["errors"]}
    assert not Payment.objects.exists()
    assert not ProcrastinateJob.objects.filter(task_name="payments.submit_payment").exists()


def test_a_named_provider_wins_over_the_prefix_when_they_disagree(api) -> None:
    # A ported number keeps its prefix: the merchant's word is the route.
    response = api.post("/api/v1/payments", {**BODY, "provider": "airtel"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["provider"] == "airtel"
    assert body["routing"] == {"predicted": "mtn", "chosen": "airtel", "reason": "explicit"}
    assert Payment.objects.get().provider == "airtel"


def test_operator_without_an_adapter_is_400(api) -> None:
    response = api.post("/api/v1/payments", {**BODY, "msisdn": "0981234567"}, format="json")

    assert_problem(response, 400, "unsupported_operator")


def test_duplicate_external_id_is_409_naming_the_existing_payment(api) -> None:
    first = api.post("/api/v1/payments", BODY, format="json").json()

    problem = assert_problem(
        api.post("/api/v1/payments", BODY, format="json"), 409, "duplicate_external_id"
    )

    assert problem["payment_id"] == first["id"]
    assert Payment.objects.count() == 1


def test_same_external_id_in_another_tenant_or_mode_is_fine(client_for, test_key) -> None:
    other_tenant = issue_key()
    live = issue_key(test_key.api_key.tenant, Mode.LIVE)

    statuses = [
        client_for(secret).post("/api/v1/payments", BODY, format="json").status_code
        for secret in (test_key.secret, other_tenant.secret, live.secret)
    ]

    assert statuses == [201, 201, 201]


def test_retrieve_and_list_newest_first_with_cursor_pages(api, test_key) -> None:
    tenant = test_key.api_key.tenant
    made = [PaymentFactory.create(tenant=tenant) for _ in range(5)]

    one = api.get(f"/api/v1/payments/{made[0].public_id}").json()
    page1 = api.get("/api/v1/payments", {"limit": 2}).json()
    page2 = api.get(page1["next"]).json()

    assert one["id"] == made[0].public_id
    assert page1["object"] == "list" and page1["previous"] is None
    ids = [p["id"] for p in page1["data"] + page2["data"]]
    assert ids == [p.public_id for p in reversed(made)][:4]


def test_list_filters(api, test_key) -> None:
    tenant = test_key.api_key.tenant
    failed = PaymentFactory.create(
        tenant=tenant, status="FAILED", failure_code="expired", completed_at="2026-11-23T10:00:00Z"
    )
    other_number = PaymentFactory.create(tenant=tenant, msisdn="260961111111")
    PaymentFactory.create(tenant=tenant)

    by_status = api.get("/api/v1/payments", {"status": "FAILED"}).json()["data"]
    by_msisdn = api.get("/api/v1/payments", {"msisdn": "0961111111"}).json()["data"]
    by_external = api.get("/api/v1/payments", {"external_id": failed.external_id}).json()["data"]
    future = api.get("/api/v1/payments", {"created_after": "2099-01-01T00:00:00Z"}).json()["data"]

    assert [p["id"] for p in by_status] == [failed.public_id]
    assert [p["id"] for p in by_msisdn] == [other_number.public_id]
    assert [p["id"] for p in by_external] == [failed.public_id]
    assert future == []
    assert_problem(api.get("/api/v1/payments", {"status": "DONE"}), 400, "validation_error")


def test_another_tenants_or_modes_payment_is_404(client_for, test_key) -> None:
    theirs = PaymentFactory.create(tenant=TenantFactory.create())
    live_own = PaymentFactory.create(tenant=test_key.api_key.tenant, mode=Mode.LIVE)
    client = client_for(test_key.secret)

    for payment in (theirs, live_own):
        assert_problem(
            client.get(f"/api/v1/payments/{payment.public_id}"), 404, "payment_not_found"
        )
        assert_problem(
            client.post(f"/api/v1/payments/{payment.public_id}/refund", {}, format="json"),
            404,
            "payment_not_found",
        )
    assert client.get("/api/v1/payments").json()["data"] == []


def test_account_lookup_for_an_operator_without_adapter_is_400(api) -> None:
    assert_problem(api.get("/api/v1/accounts/0981234567"), 400, "unsupported_operator")


def test_account_lookup_when_the_operator_is_down_is_503_retryable(api, settings) -> None:
    import responses

    settings.MTN_RETRY_INITIAL_SECONDS = 0
    settings.MTN_RETRY_MAX_SECONDS = 0
    base = settings.MTN["test"]["BASE_URL"]
    with responses.RequestsMock() as mtn:
        mtn.post(f"{base}/collection/token/", status=503, json={"code": "SERVICE_UNAVAILABLE"})

        problem = assert_problem(
            api.get("/api/v1/accounts/0961234567"), 503, "provider_unavailable"
        )

    assert problem["retryable"] is True
