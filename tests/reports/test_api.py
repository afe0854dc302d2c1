"""Merchants' reports: their payments of some days as JSON or CSV, streamed in keyset pages,
and the daily settlement summary from the ledger; another tenant's or mode's rows never
appear; strict query parameters and problem+json errors; a bounded number of queries."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.services import SYSTEM
from payments import services
from payments.models import Flow, Payment, Status
from reports import selectors
from tenants.models import Mode
from tests.payments.factories import PaymentFactory, fund
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db

PAYMENTS = "/api/v1/reports/payments"
SETTLEMENTS = "/api/v1/reports/settlements"


def _body(answer) -> bytes:
    assert answer.streaming
    return b"".join(answer.streaming_content)


@pytest.fixture
def mine(test_key):
    tenant = test_key.api_key.tenant
    ours = [PaymentFactory.create(tenant=tenant, external_id=f"mine-{n}") for n in range(3)]
    # Never in this tenant's test-mode report: another tenant's, a live one, one of 3 days ago.
    PaymentFactory.create(external_id="theirs")
    PaymentFactory.create(tenant=tenant, mode=Mode.LIVE, external_id="live-one")
    old = PaymentFactory.create(tenant=tenant, external_id="old-one")
    Payment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    return ours


def test_the_json_report_lists_the_tenants_payments_of_the_days_oldest_first(api, mine) -> None:
    today = selectors.today().isoformat()

    answer = api.get(PAYMENTS, {"from": today, "to": today})

    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    report = json.loads(_body(answer))
    assert (report["object"], report["from"], report["to"]) == ("list", today, today)
    assert [row["external_id"] for row in report["data"]] == ["mine-0", "mine-1", "mine-2"]
    assert report["data"][0]["id"] == mine[0].public_id and report["data"][0]["amount"] == "150.00"


def test_the_csv_report_has_a_header_and_a_row_per_payment(api, mine) -> None:
    Payment.objects.filter(pk=mine[0].pk).update(description="=HYPERLINK(1)")

    answer = api.get(PAYMENTS, {"format": "csv"})  # today, by default

    assert answer.status_code == 200 and answer["Content-Type"] == "text/csv"
    assert "attachment" in answer["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(_body(answer).decode())))
    assert [row["external_id"] for row in rows] == ["mine-0", "mine-1", "mine-2"]
    assert rows[0]["net"] == "150.00" and rows[0]["status"] == "PENDING"
    assert rows[0]["description"] == "'=HYPERLINK(1)"  # never run as a formula


def test_another_tenants_rows_never_appear(client_for, mine) -> None:
    stranger = client_for(issue_key().secret)

    report = json.loads(_body(stranger.get(PAYMENTS)))
    exported = _body(stranger.get(PAYMENTS, {"format": "csv"})).decode()

    assert report["data"] == []
    assert exported.count("\n") == 1  # the header only


def test_a_report_reads_in_keyset_pages_of_bounded_size(
    api, test_key, monkeypatch, django_assert_max_num_queries
) -> None:
    tenant = test_key.api_key.tenant
    made = [PaymentFactory.create(tenant=tenant) for _ in range(7)]
    monkeypatch.setattr(selectors, "REPORT_CHUNK", 3)

    # The key, its last_used stamp, and ceil(8 / 3) = 3 pages (the last one short).
    with django_assert_max_num_queries(6):
        report = json.loads(_body(api.get(PAYMENTS)))

    assert [row["id"] for row in report["data"]] == [payment.public_id for payment in made]


def test_the_query_count_does_not_grow_with_the_rows(
    api, test_key, django_assert_max_num_queries
) -> None:
    tenant = test_key.api_key.tenant
    for _ in range(40):
        PaymentFactory.create(tenant=tenant)

    with django_assert_max_num_queries(4):
        assert len(json.loads(_body(api.get(PAYMENTS)))["data"]) == 40


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-12-01"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_parameters_are_problems(api, query, field) -> None:
    answer = api.get(PAYMENTS, query)

    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "validation_error"
    assert [error["field"] for error in answer.json()["errors"]] == [field]


def test_an_unknown_parameter_is_refused(api) -> None:
    answer = api.get(SETTLEMENTS, {"format": "csv"})

    assert answer.status_code == 400 and answer.json()["code"] == "unknown_query_parameter"


def test_the_settlement_summary_takes_money_from_the_ledger(api, test_key) -> None:
    tenant = test_key.api_key.tenant
    fund(tenant, "1000.00")
    made = [
        ("100.00", "2.50", Status.SUCCESSFUL),
        ("50.00", "1.25", Status.SUCCESSFUL),
        ("30.00", "0.75", Status.FAILED),
    ]
    for amount, fee, status in made:
        payment = PaymentFactory.create(tenant=tenant, amount=Decimal(amount), fee=Decimal(fee))
        services.transition_payment(
            payment=payment, status=status, failure_code="payer_declined", actor=SYSTEM
        )
    payout = services.create_payment(
        tenant=tenant,
        mode=Mode.TEST,
        flow=Flow.DISBURSEMENT,
        amount=Decimal("40.00"),
        currency="ZMW",
        msisdn="260961234567",
        external_id="payout-1",
        actor=SYSTEM,
    )
    services.transition_payment(payment=payout, status=Status.SUCCESSFUL, actor=SYSTEM)
    PaymentFactory.create(tenant=tenant, amount=Decimal("20.00"))  # pending: nothing settled
    PaymentFactory.create(amount=Decimal("999.00"))  # another tenant's

    answer = api.get(SETTLEMENTS)

    assert answer.status_code == 200
    rows = {(row["flow"], row["status"]): row for row in answer.json()["data"]}
    assert set(rows) == {
        ("collection", "SUCCESSFUL"),
        ("collection", "FAILED"),
        ("collection", "PENDING"),
        ("disbursement", "SUCCESSFUL"),
    }
    collected = rows[("collection", "SUCCESSFUL")]
    assert (collected["count"], collected["gross"], collected["fees"], collected["net"]) == (
        2,
        "150.00",
        "3.75",
        "146.25",
    )
    assert rows[("collection", "FAILED")]["net"] == "0.00"
    assert rows[("collection", "PENDING")]["gross"] == "20.00"
    paid = rows[("disbursement", "SUCCESSFUL")]
    assert paid["net"] == f"-{Decimal('40.00') + payout.fee:.2f}"
    assert all(row["date"] == selectors.today().isoformat() for row in answer.json()["data"])


def test_the_settlement_summary_is_two_queries(
    api, test_key, django_assert_max_num_queries
) -> None:
    for _ in range(5):
        PaymentFactory.create(tenant=test_key.api_key.tenant)

    with django_assert_max_num_queries(5):  # key, its stamp, rate limit, payments, ledger
        assert api.get(SETTLEMENTS).status_code == 200
