"""Balances end to end: the API over real HTTP, the MTN simulator, a real worker, PostgreSQL.

A new merchant collects, then pays out and refunds against what it collected; the balance
and its transactions agree with the payments, and check_ledger passes. A payout without
balance is refused before anything reaches the operator.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from procrastinate.contrib.django.models import ProcrastinateJob

from payments.models import Payment
from providers.sandbox.models import MtnTransaction
from tests.e2e.conftest import Gateway, final
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def merchant(gateway) -> Gateway:
    """A merchant with nothing in its balance (the `gateway` fixture's one is funded)."""
    return Gateway(gateway.base_url, issue_key().secret)


def _balance(merchant: Gateway) -> tuple[str, str]:
    body = merchant.session.get(f"{merchant.base_url}/api/v1/balance", timeout=10).json()
    [available] = body["available"]
    [reserved] = body["reserved"]
    return available["amount"], reserved["amount"]


def test_collect_then_pay_out_and_refund_against_the_balance(merchant) -> None:
    refused = merchant.session.post(
        f"{merchant.base_url}/api/v1/payments",
        json={
            "flow": "disbursement",
            "amount": "100.00",
            "msisdn": "0961234567",
            "external_id": "too-early",
        },
        timeout=10,
    )
    assert refused.status_code == 402
    assert refused.json()["code"] == "insufficient_balance"
    assert not Payment.objects.exists()
    assert not MtnTransaction.objects.exists()  # nothing reached the operator
    assert not ProcrastinateJob.objects.filter(task_name="payments.submit_payment").exists()

    collected = merchant.drive(merchant.create("0961234567")["id"], final)  # K150.00
    assert collected["status"] == "SUCCESSFUL"
    assert _balance(merchant) == ("150.00", "0.00")

    payout = merchant.create("0961234568", flow="disbursement", amount="100.00")
    assert _balance(merchant) == ("50.00", "100.00")  # reserved at creation
    assert merchant.drive(payout["id"], final)["status"] == "SUCCESSFUL"
    refund = merchant.session.post(
        f"{merchant.base_url}/api/v1/payments/{collected['id']}/refund",
        json={"amount": "30.00"},
        timeout=10,
    ).json()
    assert merchant.drive(refund["id"], final)["status"] == "SUCCESSFUL"
    failed = merchant.create("260960000001", flow="disbursement", amount="20.00")
    assert merchant.drive(failed["id"], final)["status"] == "FAILED"  # its reservation returns

    assert _balance(merchant) == ("20.00", "0.00")
    listed = merchant.session.get(
        f"{merchant.base_url}/api/v1/balance-transactions?limit=100", timeout=10
    ).json()["data"]
    newest = listed[0]
    assert Decimal(newest["available_after"]) == Decimal("20.00")
    posted = sum(Decimal(item["amount"]) for item in listed if item["phase"] in ("posted", "post"))
    assert posted == Decimal("20.00")  # +150 collected, -100 paid out, -30 refunded
    call_command("check_ledger")
