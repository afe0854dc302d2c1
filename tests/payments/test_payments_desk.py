"""The payments list and page as ops use them all day: the columns they look for, a number
found in any form, Lusaka dates and times, no full COUNT(*), a read-only page whose timeline
collapses repeats."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments import selectors
from payments.models import Payment, Status, Transaction
from tests.payments.factories import PaymentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/payments/payment/"


def _page(client, **params) -> str:
    answer = client.get(CHANGELIST, params)
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_list_shows_status_amount_number_ids_and_the_failure_in_words(staff) -> None:
    failed = PaymentFactory.create(
        msisdn="260960000001",
        external_id="order-77",
        provider_transaction_id="MTN-998877",
        amount="1234.50",
        status=Status.FAILED,
        failure_code="insufficient_funds",
        completed_at=timezone.now(),
    )

    page = _page(staff)

    assert failed.public_id in page
    for shown in ("260960000001", "order-77", "1,234.50 ZMW", "MTN MoMo · collection · test"):
        assert shown in page
    assert "Not enough money in the wallet" in page
    assert '<span class="badge badge-bad">FAILED</span>' in page  # red (gateway/admin.css)
    # The operator's id is searched, and shown on the payment's page.
    assert failed.public_id in _page(staff, q="MTN-998877")
    detail = staff.get(reverse("admin:payments_payment_change", args=[failed.pk]))
    assert "MTN-998877" in detail.content.decode()


@pytest.mark.parametrize("typed", ["+260 96 000 0001", "0960000001", "260960000001", "960000001"])
def test_a_number_is_found_in_any_accepted_form(staff, typed) -> None:
    wanted = PaymentFactory.create(msisdn="260960000001")
    other = PaymentFactory.create(msisdn="260960000002")

    page = _page(staff, q=typed)

    assert wanted.public_id in page and other.public_id not in page


@pytest.mark.parametrize("field", ["public_id", "external_id", "provider_reference"])
def test_ids_are_found_exactly(staff, field) -> None:
    wanted = PaymentFactory.create(provider_transaction_id="MP1")
    other = PaymentFactory.create(provider_transaction_id="MP2")

    page = _page(staff, q=str(getattr(wanted, field)))

    assert wanted.public_id in page and other.public_id not in page


def _created(at: datetime) -> Payment:
    payment = PaymentFactory.create()
    Payment.objects.filter(pk=payment.pk).update(created_at=at)
    return payment


def test_the_date_range_is_in_lusaka_days(staff) -> None:
    # 22:30 UTC on 1 December is already 00:30 on 2 December in Lusaka (UTC+2).
    late = _created(datetime(2026, 12, 1, 22, 30, tzinfo=UTC))
    earlier = _created(datetime(2026, 12, 1, 21, 30, tzinfo=UTC))
    next_day = _created(datetime(2026, 12, 2, 22, 30, tzinfo=UTC))

    page = _page(staff, created_from="2026-12-02", created_to="2026-12-02")
    open_ended = _page(staff, created_from="2026-12-02")

    assert late.public_id in page
    assert earlier.public_id not in page and next_day.public_id not in page
    assert late.public_id in open_ended and next_day.public_id in open_ended
    assert staff.get(CHANGELIST, {"created_from": "yesterday"}).status_code == 302  # refused


def test_times_are_shown_in_lusaka_with_the_zone(staff) -> None:
    payment = _created(datetime(2026, 12, 1, 22, 30, 5, tzinfo=UTC))

    listing = _page(staff)
    page = staff.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()

    assert "2026-12-02 00:30:05 CAT" in listing and "2026-12-02 00:30:05 CAT" in page


def test_the_list_never_counts_the_whole_table(staff) -> None:
    PaymentFactory.create_batch(30)

    with CaptureQueriesContext(connection) as plain:
        _page(staff)
    with CaptureQueriesContext(connection) as filtered:
        _page(staff, status="PENDING", q="0961234567")

    for query in [*plain.captured_queries, *filtered.captured_queries]:
        sql = query["sql"]
        if "COUNT(" in sql and "payments_payment" in sql:
            assert "LIMIT" in sql, sql  # a capped count, never a full scan
    assert len(plain.captured_queries) <= 12 and len(filtered.captured_queries) <= 12


def test_the_payment_page_is_a_view_without_save(staff) -> None:
    payment = PaymentFactory.create()

    page = staff.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()

    assert "View payment" in page and "Change payment" not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    refused = staff.post(
        reverse("admin:payments_payment_change", args=[payment.pk]), {"amount": "1.00"}
    )
    assert refused.status_code == 403


def _call(payment: Payment, **values: object) -> Transaction:
    fields: dict[str, object] = {
        "operation": "request_payment",
        "method": "POST",
        "url": "http://mtn/requesttopay",
        "request_body": {"amount": "150.00", "payer": {"partyId": "260961234567"}},
        "status_code": 503,
        "response_body": {"message": "unavailable"},
        "outcome": "retryable",
        "error": "http_503",
        "duration_ms": 5.0,
        **values,
    }
    return Transaction.objects.create(payment=payment, **fields)


def test_the_timeline_collapses_identical_consecutive_calls(staff) -> None:
    payment = PaymentFactory.create()
    for _ in range(12):
        _call(payment)
    _call(payment, status_code=202, outcome="pending", error="", response_body=None)
    _call(payment)  # a repeat after a different call starts a new step

    steps = selectors.list_timeline(payment=payment)
    page = staff.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()

    assert [(step.count, step.call.status_code) for step in steps] == [
        (12, 503),
        (1, 202),
        (1, 503),
    ]
    assert steps[0].last_at > steps[0].call.created_at
    assert page.count("× 12") == 1 and page.count("http_503") == 2
