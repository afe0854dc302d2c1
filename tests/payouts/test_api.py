"""POST/GET /api/v1/payout-batches and cancel: validation, duplicates, idempotency, tenancy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from audit.services import SYSTEM
from payments import availability
from payments.ledger.models import Account, AccountKind, Entry
from payments.models import Flow, Payment, Status
from payouts.models import PayoutBatch, PayoutBatchItem
from tenants.models import Mode
from tests.payments.factories import PaymentFactory, fund
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/payout-batches"


def _items(count: int, prefix: str = "po", msisdn: str = "0961234567") -> list[dict[str, str]]:
    return [
        {"external_id": f"{prefix}-{n}", "amount": "10.00", "msisdn": msisdn} for n in range(count)
    ]


@pytest.fixture
def funded(test_key):
    fund(test_key.api_key.tenant)
    return test_key


def _available(tenant) -> Decimal:
    return Account.objects.get(kind=AccountKind.MERCHANT, tenant=tenant, mode="test").available


def test_a_batch_makes_one_normal_payout_per_item_and_reserves_them(api, funded) -> None:
    tenant = funded.api_key.tenant
    answer = api.post(URL, {"items": _items(3)}, format="json")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["object"] == "payout_batch" and body["item_count"] == 3
    assert body["totals"]["PENDING"] == {"count": 3, "amount": "30.00"}
    assert [item["external_id"] for item in body["items"]["data"]] == ["po-0", "po-1", "po-2"]
    payments = Payment.objects.filter(tenant=tenant)
    assert payments.count() == 3
    assert {p.flow for p in payments} == {Flow.DISBURSEMENT}
    assert {p.msisdn for p in payments} == {"260961234567"}
    # Each payout reserved on its own, as a single one would be: one pending entry each.
    assert Entry.objects.filter(payment__in=payments, phase="pending").count() == 3
    assert _available(tenant) == Decimal("10000.00") - Decimal("30.00")
    # Each has its own submission job, as a single payout does.
    from procrastinate.contrib.django.models import ProcrastinateJob

    jobs = ProcrastinateJob.objects.filter(task_name="payments.submit_payment")
    assert sorted(job.args["payment_id"] for job in jobs) == sorted(p.pk for p in payments)


def test_invalid_items_refuse_the_whole_batch_with_a_pointer_at_each(api, funded) -> None:
    items = _items(20)
    items[3]["msisdn"] = "12345"
    items[17]["amount"] = "-5"
    items[11]["external_id"] = "po-2"  # the same as item 2

    answer = api.post(URL, {"items": items}, format="json")

    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "validation_error"
    pointers = sorted(error["pointer"] for error in body["errors"])
    assert pointers == ["/items/11/external_id", "/items/17/amount", "/items/3/msisdn"]
    assert Payment.objects.count() == 0 and PayoutBatch.objects.count() == 0


def test_a_rule_of_the_payout_service_refuses_the_batch_with_a_pointer(
    api, funded, settings
) -> None:
    settings.PAYMENT_MAX_AMOUNT = "100.00"
    items = _items(5)
    items[4]["amount"] = "500.00"

    answer = api.post(URL, {"items": items}, format="json")

    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["pointer"] == "/items/4/amount" and error["code"] == "validation_error"
    assert Payment.objects.count() == 0 and PayoutBatch.objects.count() == 0


def test_a_batch_the_balance_does_not_cover_is_refused_whole(api, test_key) -> None:
    fund(test_key.api_key.tenant, amount="25.00")

    answer = api.post(URL, {"items": _items(3)}, format="json")

    assert answer.status_code == 402
    assert answer.json()["code"] == "insufficient_balance"
    assert Payment.objects.count() == 0 and PayoutBatch.objects.count() == 0
    assert _available(test_key.api_key.tenant) == Decimal("25.00")


def test_an_item_whose_external_id_is_used_is_reported_not_duplicated(api, funded) -> None:
    existing = PaymentFactory.create(tenant=funded.api_key.tenant, external_id="po-1")

    answer = api.post(URL, {"items": _items(3)}, format="json")

    assert answer.status_code == 201
    body = answer.json()
    rejected = body["items"]["data"][1]
    assert rejected["status"] == "REJECTED" and rejected["payment"] is None
    assert rejected["duplicate_of"] == existing.public_id
    assert body["totals"]["REJECTED"] == {"count": 1, "amount": "10.00"}
    assert body["totals"]["PENDING"]["count"] == 2
    assert Payment.objects.filter(external_id="po-1").count() == 1
    assert _available(funded.api_key.tenant) == Decimal("9980.00")


def test_a_currency_other_than_zmw_is_refused_even_when_every_item_is_a_repeat(api, funded) -> None:
    """Found by the schema fuzzing: a batch of repeats makes no payout, so no payout's rules
    ran and its currency went unchecked (201)."""
    api.post(URL, {"items": _items(2)}, format="json")

    answer = api.post(URL, {"items": _items(2), "currency": "USD"}, format="json")

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "currency"
    assert PayoutBatch.objects.count() == 1 and Payment.objects.count() == 2


def test_a_retry_with_the_same_idempotency_key_creates_nothing_new(api, funded) -> None:
    first = api.post(URL, {"items": _items(4)}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    again = api.post(URL, {"items": _items(4)}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert PayoutBatch.objects.count() == 1 and Payment.objects.count() == 4


def test_a_retry_without_a_key_reports_every_item_as_used(api, funded) -> None:
    first = api.post(URL, {"items": _items(2)}, format="json").json()
    again = api.post(URL, {"items": _items(2)}, format="json").json()

    assert again["totals"]["REJECTED"]["count"] == 2
    assert [i["duplicate_of"] for i in again["items"]["data"]] == [
        i["payment"] for i in first["items"]["data"]
    ]
    assert Payment.objects.count() == 2


def test_another_tenants_batch_is_404(api, funded, client_for) -> None:
    created = api.post(URL, {"items": _items(1)}, format="json").json()
    other = client_for(issue_key().secret)
    live = client_for(issue_key(tenant=funded.api_key.tenant, mode=Mode.LIVE).secret)

    for client in (other, live):
        assert client.get(f"{URL}/{created['id']}").status_code == 404
        assert client.post(f"{URL}/{created['id']}/cancel").status_code == 404
    assert api.get(f"{URL}/{created['id']}").status_code == 200


def test_the_items_are_a_cursor_list_in_order(api, funded) -> None:
    created = api.post(URL, {"items": _items(7)}, format="json").json()

    seen, url = [], f"{URL}/{created['id']}?limit=3"
    while url:
        page = api.get(url).json()["items"]
        seen += [item["index"] for item in page["data"]]
        url = page["next"]
    assert seen == list(range(7))
    assert api.get(f"{URL}/{created['id']}?cursor=cD1hYmM=").status_code == 400  # p=abc


def test_cancel_cancels_the_queued_payouts_only(api, funded) -> None:
    availability.set_override(
        provider="airtel",
        mode="test",
        operation="disbursement",
        state="CLOSED",
        reason="Airtel payouts down",
        expires_at=None,
        actor=SYSTEM,
    )
    items = [*_items(2, prefix="mtn"), *_items(2, prefix="airtel", msisdn="0971234567")]
    created = api.post(URL, {"items": items}, format="json").json()
    assert [i["next_action"] for i in created["items"]["data"]] == [None, None, "queued", "queued"]

    answer = api.post(f"{URL}/{created['id']}/cancel")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["cancelled"] == 2 and body["cancelled_at"] is not None
    assert body["totals"]["FAILED"] == {"count": 2, "amount": "20.00"}
    assert {i["failure_code"] for i in body["items"]["data"][2:]} == {"cancelled"}
    assert Payment.objects.filter(status=Status.PENDING, provider="mtn").count() == 2
    assert _available(funded.api_key.tenant) == Decimal("9980.00")
    again = api.post(f"{URL}/{created['id']}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "payout_batch_not_cancellable"


def test_more_than_1000_items_is_refused(api, funded) -> None:
    answer = api.post(URL, {"items": _items(1001)}, format="json")

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["pointer"] == "/items"
    assert PayoutBatchItem.objects.count() == 0


def test_a_batch_costs_the_same_statements_for_2_items_or_1000(api, funded) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # The first payout of a tenant creates its ledger accounts; and the operator's availability
    # is read into the cache: a first batch makes both, then the two are measured.
    api.post(URL, {"items": _items(1, prefix="warm")}, format="json")
    counts = []
    for size, prefix in ((2, "small"), (1000, "large")):
        items = [
            {"external_id": f"{prefix}-{n}", "amount": "1.00", "msisdn": f"09612{n:05d}"}
            for n in range(size)
        ]
        with CaptureQueriesContext(connection) as captured:
            answer = api.post(URL, {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY=prefix)
        assert answer.status_code == 201, answer.content[:300]
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1] <= 30, counts
    assert Payment.objects.count() == 1003


def test_a_daily_cap_counts_the_batchs_total_for_its_operator(api, funded) -> None:
    from providers.models import DailyUsage, OperatorConfig

    tenant = funded.api_key.tenant
    OperatorConfig.objects.create(
        tenant=tenant, mode="test", provider="mtn", disbursement_daily_cap=Decimal("25.00")
    )

    refused = api.post(URL, {"items": _items(3)}, format="json")  # 30.00 > 25.00

    assert refused.status_code == 422 and refused.json()["code"] == "daily_cap_exceeded"
    assert not Payment.objects.exists() and not DailyUsage.objects.exists()
    accepted = api.post(URL, {"items": _items(2)}, format="json")
    assert accepted.status_code == 201
    assert DailyUsage.objects.get().total == Decimal("20.00")
    assert {p.cap_day for p in Payment.objects.all()} == {DailyUsage.objects.get().day}
