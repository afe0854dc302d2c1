"""The admin home page: today's and the last 7 days' volume, value and success rate per
operator and flow, the stuck payments, drawn as inline SVG; tenant-scoped; bounded queries.
The desk's big pages each cost a bounded number of queries, whatever the table holds."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.models import Payment, Status
from reports import selectors
from tenants.models import StaffMembership
from tests.payments.factories import PaymentFactory
from tests.staff import signed_in
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db


def _final(tenant, status: Status, amount: str = "100.00", **fields) -> Payment:
    return PaymentFactory.create(
        tenant=tenant,
        status=status,
        amount=Decimal(amount),
        completed_at=timezone.now(),
        failure_code="payer_declined" if status == Status.FAILED else "",
        **fields,
    )


@pytest.fixture
def traffic():
    alpha = TenantFactory.create(name="Alpha Foods")
    bravo = TenantFactory.create(name="Bravo Bank")
    _final(alpha, Status.SUCCESSFUL, "100.00")
    _final(alpha, Status.SUCCESSFUL, "50.00")
    _final(alpha, Status.FAILED, "25.00")
    _final(alpha, Status.SUCCESSFUL, "10.00", provider="airtel", msisdn="260971234567")
    earlier = _final(alpha, Status.FAILED, "40.00")
    Payment.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - timedelta(days=3))
    ancient = _final(alpha, Status.SUCCESSFUL, "999.00")
    Payment.objects.filter(pk=ancient.pk).update(created_at=timezone.now() - timedelta(days=9))
    stuck = PaymentFactory.create(tenant=alpha, expires_at=timezone.now() - timedelta(minutes=5))
    waiting = PaymentFactory.create(tenant=alpha)  # pending, within its window
    bravo_stuck = PaymentFactory.create(
        tenant=bravo, amount=Decimal("7.00"), expires_at=timezone.now() - timedelta(hours=1)
    )
    return {"alpha": alpha, "stuck": stuck, "waiting": waiting, "bravo_stuck": bravo_stuck}


def test_the_numbers_per_operator_and_flow(traffic) -> None:
    board = selectors.get_dashboard(tenant_ids=[traffic["alpha"].pk])

    week = {(v.provider, v.flow): v for v in board.week}
    today = {(v.provider, v.flow): v for v in board.today}
    mtn = week[("mtn", "collection")]
    # 7 days: 2 successful (the 999 one is 9 days old), 2 failed, 2 pending (150 each).
    assert (mtn.count, mtn.value, mtn.successful, mtn.failed) == (6, Decimal("515.00"), 2, 2)
    assert mtn.rate_text == "50%"
    assert today[("mtn", "collection")].count == 5
    assert today[("mtn", "collection")].success_rate == pytest.approx(2 / 3)
    assert week[("airtel", "collection")].rate_text == "100%"
    assert [payment.pk for payment in board.stuck] == [traffic["stuck"].pk]
    assert board.stuck_count == 1
    assert len(board.daily) == 7 and board.daily[-1][1]["mtn"] == 5


def test_the_home_page_draws_charts_for_the_users_tenants_only(traffic, staff_in) -> None:
    user = staff_in("ops")
    StaffMembership.objects.create(user=user, tenant=traffic["alpha"])
    client = signed_in(user)

    page = client.get("/admin/").content.decode()

    assert page.count('<svg id="chart-') == 2
    assert re.search(r'<rect x="\d+" y="[\d.]+" width="40" height="[\d.]+" fill="#e0a800">', page)
    assert traffic["stuck"].public_id in page and traffic["waiting"].public_id not in page
    assert traffic["bravo_stuck"].public_id not in page
    assert "https://" not in page.split('id="dashboard"')[1].split("</div>\n</div>")[0]  # no CDN


def test_the_home_page_is_a_bounded_number_of_queries(
    traffic, staff, django_assert_max_num_queries
) -> None:
    for _ in range(30):
        _final(traffic["alpha"], Status.SUCCESSFUL)
        PaymentFactory.create(tenant=traffic["alpha"], expires_at=timezone.now() - timedelta(1))

    # session, user, three dashboard queries, the app list and recent actions
    with django_assert_max_num_queries(8):
        assert staff.get("/admin/").status_code == 200


def test_a_user_without_payments_sees_no_dashboard(traffic, staff_in) -> None:
    client = signed_in(staff_in())

    assert 'id="dashboard"' not in client.get("/admin/").content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status__exact": "FAILED", "created_from": "2026-11-01", "created_to": "2026-12-31"},
        {"q": "+260 96 123 4567"},
        {"q": "MTN-4242"},
    ],
    ids=["list", "filtered", "msisdn", "operator-id"],
)
def test_the_payments_desk_pages_are_a_bounded_number_of_queries(
    traffic, staff, query, django_assert_max_num_queries
) -> None:
    for n in range(30):
        _final(traffic["alpha"], Status.FAILED, provider_transaction_id=f"MTN-{4200 + n}")

    # session, user, the capped count, the page with its tenants, the tenant filter's choices
    with django_assert_max_num_queries(8):
        assert staff.get("/admin/payments/payment/", query).status_code == 200
