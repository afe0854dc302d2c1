"""A payout batch end to end: the API over real HTTP, a real worker, the MTN simulator on
loopback. Each item settles as a single payout to its number would, and the batch's totals
and the merchant's balance follow."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.conftest import drive_all

pytestmark = pytest.mark.django_db(transaction=True)

# The simulator's test numbers and what each payout must end as.
OUTCOMES = {
    "260961234567": ("SUCCESSFUL", None),
    "260961234568": ("SUCCESSFUL", None),
    "260960000001": ("FAILED", "payer_not_found"),
    "260960000005": ("FAILED", "insufficient_funds"),
    "260960000006": ("SUCCESSFUL", None),  # no callback: the poller finds it
    "260960000009": ("FAILED", "provider_unavailable"),
}


def test_a_batch_of_test_numbers_ends_with_each_item_in_its_state(gateway, settings) -> None:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    settings.PAYMENT_SUBMIT_MAX_ATTEMPTS = 2  # …009 answers 503 to every attempt
    available_before, _ = gateway.balance()
    items = [
        {"external_id": f"batch-item-{n}", "amount": "20.00", "msisdn": msisdn}
        for n, msisdn in enumerate(OUTCOMES)
    ]

    created = gateway.session.post(
        f"{gateway.base_url}/api/v1/payout-batches",
        json={"items": items},
        headers={"Idempotency-Key": "e2e-batch"},
        timeout=30,
    )

    assert created.status_code == 201, created.text
    batch = created.json()
    assert batch["totals"]["PENDING"] == {"count": 6, "amount": "120.00"}
    payment_ids = [item["payment"] for item in batch["items"]["data"]]
    settled = drive_all(gateway, payment_ids, within=60)
    for item in batch["items"]["data"]:
        payment = settled[item["payment"]]
        assert (payment["status"], payment["failure_code"]) == OUTCOMES[item["msisdn"]], item
        assert payment["flow"] == "disbursement" and payment["external_id"] == item["external_id"]

    final = gateway.session.get(f"{gateway.base_url}/api/v1/payout-batches/{batch['id']}").json()
    assert final["totals"] == {
        "PENDING": {"count": 0, "amount": "0.00"},
        "SUCCESSFUL": {"count": 3, "amount": "60.00"},
        "FAILED": {"count": 3, "amount": "60.00"},
        "REJECTED": {"count": 0, "amount": "0.00"},
    }
    assert [(i["status"], i["failure_code"]) for i in final["items"]["data"]] == list(
        OUTCOMES.values()
    )
    # Only the successful payouts (and their fees, none here) left the balance.
    available, reserved = gateway.balance()
    assert (available, reserved) == (available_before - Decimal("60.00"), Decimal("0.00"))
