"""Concurrent batches and single payouts on one balance, over a live server on PostgreSQL:
the reservation is one conditional UPDATE, so whatever runs at once, the balance never goes
below zero and a batch is paid whole or not at all."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.db import connections

from payments.ledger.checks import find_breaches
from payments.ledger.models import Account, AccountKind
from payments.models import Payment
from payouts.models import PayoutBatch
from tests.payments.factories import fund
from tests.tenants.factories import issue_key


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_never_overdraw_and_each_is_whole_or_nothing(live_server) -> None:
    issued = issue_key()
    tenant = issued.api_key.tenant
    fund(tenant, "1000.00")
    start = threading.Barrier(6)

    def send(index: int) -> int:
        start.wait()
        # Each batch needs 300.00: three fit in 1,000.00, a fourth does not.
        answer = requests.post(
            f"{live_server.url}/api/v1/payout-batches",
            json={
                "items": [
                    {"external_id": f"b{index}-{n}", "amount": "30.00", "msisdn": "0961234567"}
                    for n in range(10)
                ]
            },
            headers={"Authorization": f"Bearer {issued.secret}"},
            timeout=60,
        )
        assert answer.status_code in (201, 402), answer.text
        return answer.status_code

    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(send, range(6)))
    finally:
        connections.close_all()

    assert sorted(answers) == [201, 201, 201, 402, 402, 402]
    assert PayoutBatch.objects.count() == 3 and Payment.objects.count() == 30
    merchant = Account.objects.get(kind=AccountKind.MERCHANT, tenant=tenant, mode="test")
    assert (merchant.available, merchant.reserved) == (Decimal("100.00"), Decimal("900.00"))
    assert find_breaches() == []


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_sent_twice_at_once_pays_each_item_once(live_server) -> None:
    issued = issue_key()
    fund(issued.api_key.tenant, "1000.00")
    start = threading.Barrier(2)
    items = [
        {"external_id": f"same-{n}", "amount": "10.00", "msisdn": "0961234567"} for n in range(10)
    ]

    def send(_: int) -> requests.Response:
        start.wait()
        return requests.post(
            f"{live_server.url}/api/v1/payout-batches",
            json={"items": items},
            headers={"Authorization": f"Bearer {issued.secret}"},
            timeout=60,
        )

    try:
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(send, range(2)))
    finally:
        connections.close_all()

    assert Payment.objects.count() == 10
    [paid] = [
        a for a in answers if a.status_code == 201 and a.json()["totals"]["PENDING"]["count"] == 10
    ]
    [other] = [a for a in answers if a is not paid]
    # It saw them taken (every item REJECTED), or raced the INSERTs (409, nothing created).
    assert other.status_code == 409 or other.json()["totals"]["REJECTED"]["count"] == 10
