"""One merchant over MTN, Airtel and Zamtel in one run: the API over real HTTP, each
operator's simulator on loopback, a real Procrastinate worker and the poller, PostgreSQL.

Each payment settles through its own operator's callback, or through the poller when the
callback never comes; the admin timeline shows each operator's calls; forged callbacks change
nothing; refunds go through every operator that takes them, and an Airtel refund whose answer
is lost waits for ops instead of expiring.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from audit.models import AuditLog
from payments import services
from payments.ledger.models import Entry, EntryPhase
from payments.models import Payment
from providers.sandbox.airtel.models import AirtelKind, AirtelTransaction
from providers.zamtel import signing as zamtel_signing
from tests.e2e.conftest import drive_all
from webhooks.models import CallbackOutcome, InboundCallback

pytestmark = pytest.mark.django_db(transaction=True)

OPERATORS = ("mtn", "airtel", "zamtel")
# A number of each operator that succeeds with a callback, and the test number (…NN) prefix.
NUMBER = {"mtn": "0961234567", "airtel": "0971234567", "zamtel": "0951234567"}
TEST_PREFIX = {"mtn": "2609600000", "airtel": "2609700000", "zamtel": "2609500000"}
# What each operator's calls look like on the timeline: the simulator's own paths.
PATHS = {
    ("mtn", "collection"): "/sandbox/mtn/collection/v1_0/requesttopay",
    ("mtn", "disbursement"): "/sandbox/mtn/disbursement/v1_0/transfer",
    ("airtel", "collection"): "/sandbox/airtel/merchant/v2/payments/",
    ("airtel", "disbursement"): "/sandbox/airtel/standard/v2/disbursements/",
    ("zamtel", "collection"): "/sandbox/zamtel/v2/deposits",
    ("zamtel", "disbursement"): "/sandbox/zamtel/v2/payouts",
}
SUBMISSION = {"collection": "request_payment", "disbursement": "send_payout"}
MTN_SECRET = "e2e-mtn-callback-secret"


def _operations(public_id: str) -> list[str]:
    payment = Payment.objects.get(public_id=public_id)
    return [call.operation for call in payment.provider_calls.all()]


# --- through each operator's own callback ---------------------------------------------------


def test_one_merchant_collects_and_pays_out_through_each_operators_callback(
    merchant, staff
) -> None:
    expected: dict[str, tuple[str, str | None]] = {}
    kinds: dict[str, tuple[str, str]] = {}
    for operator in OPERATORS:
        for flow in ("collection", "disbursement"):
            created = merchant.create(NUMBER[operator], flow=flow)
            assert (created["provider"], created["status"]) == (operator, "PENDING")
            expected[created["id"]] = ("SUCCESSFUL", None)
            kinds[created["id"]] = (operator, flow)
        declined = merchant.create(TEST_PREFIX[operator] + "05")  # not enough funds
        expected[declined["id"]] = ("FAILED", "insufficient_funds")
        kinds[declined["id"]] = (operator, "collection")

    settled = drive_all(merchant, expected)

    assert {pid: (p["status"], p["failure_code"]) for pid, p in settled.items()} == expected
    for public_id, (operator, flow) in kinds.items():
        payment = Payment.objects.get(public_id=public_id)
        callbacks = list(InboundCallback.objects.filter(payment=payment))
        # Its own operator's callback, verified where the operator signs, asked a status check;
        # the poller (every 60 s here) had no time to: the callback settled it.
        assert [c.provider for c in callbacks] == [operator], public_id
        assert callbacks[0].outcome == CallbackOutcome.REFRESH_REQUESTED
        assert callbacks[0].signature_valid is (None if operator == "mtn" else True)
        operations = _operations(public_id)
        assert operations[0] == SUBMISSION[flow] and operations[-1] == "fetch_status"
        if expected[public_id][0] == "SUCCESSFUL":
            assert settled[public_id]["provider_transaction_id"]

    # The admin timeline of each payment shows its own operator's calls, and only those.
    for public_id, (operator, flow) in kinds.items():
        pk = Payment.objects.get(public_id=public_id).pk
        page = staff.get(f"/admin/payments/payment/{pk}/change/").content.decode()
        assert "Operator calls (timeline)" in page
        assert PATHS[(operator, flow)] in page, (public_id, operator, flow)
        others = [path for (name, _), path in PATHS.items() if name != operator]
        assert not [path for path in others if path in page], public_id
        assert "Operator callbacks" in page and "refresh_requested" in page


# --- callbacks lost: the poller ---------------------------------------------------------------


def test_with_callbacks_lost_the_poller_settles_each_operators_payments(merchant, settings) -> None:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    ids: dict[str, str] = {}
    for operator in OPERATORS:
        for flow in ("collection", "disbursement"):
            # …006: the operator succeeds and never calls back.
            ids[merchant.create(TEST_PREFIX[operator] + "06", flow=flow)["id"]] = operator

    settled = drive_all(merchant, ids)

    assert {p["status"] for p in settled.values()} == {"SUCCESSFUL"}
    assert {p["provider"] for p in settled.values()} == set(OPERATORS)
    assert not InboundCallback.objects.exists()
    for public_id in ids:
        assert "fetch_status" in _operations(public_id)


# --- forged callbacks -------------------------------------------------------------------------


def _signed_mtn(body: bytes) -> dict[str, str]:
    digest = hmac.new(MTN_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def _airtel_body(transaction: dict, key: str) -> bytes:
    compact = json.dumps(transaction, separators=(",", ":")).encode()
    digest = hmac.new(key.encode(), compact, hashlib.sha256).digest()
    return json.dumps(
        {"transaction": transaction, "hash": base64.b64encode(digest).decode()}
    ).encode()


def _state(public_ids: Iterable[str]) -> tuple[object, ...]:
    payments = Payment.objects.filter(public_id__in=list(public_ids)).order_by("public_id")
    return (
        [(p.public_id, p.status, p.failure_code, p.provider_transaction_id) for p in payments],
        sorted(Entry.objects.values_list("id", "phase")),
        AuditLog.objects.count(),
    )


def test_a_forged_callback_for_each_operator_changes_nothing(merchant, settings) -> None:
    # A: a payout each operator keeps pending (…004, no callback); B: a settled collection.
    pending = {op: merchant.create(TEST_PREFIX[op] + "04", flow="disbursement") for op in OPERATORS}
    paid = {op: merchant.create(NUMBER[op]) for op in OPERATORS}
    settled = drive_all(merchant, [p["id"] for p in paid.values()])
    assert {p["status"] for p in settled.values()} == {"SUCCESSFUL"}
    merchant.run_jobs()  # the payouts are submitted (and reserved) before the snapshot
    a = {op: Payment.objects.get(public_id=p["id"]) for op, p in pending.items()}
    b = {op: Payment.objects.get(public_id=p["id"]) for op, p in paid.items()}
    assert all(p.submitted_at for p in a.values())
    everything = [p["id"] for p in (*pending.values(), *paid.values())]
    before = _state(everything)
    stored_before = InboundCallback.objects.count()
    settings.MTN_WEBHOOK_SECRET = MTN_SECRET
    base = merchant.base_url
    answers: dict[str, int] = {}

    # MTN: a wrong signature, then a well-signed callback at A's URL naming B.
    mtn_url = f"{base}/api/v1/webhooks/mtn/{a['mtn'].callback_token}"
    mtn_claim = json.dumps(
        {
            "externalId": b["mtn"].public_id,
            "financialTransactionId": b["mtn"].provider_transaction_id,
            "amount": "150",
            "currency": "ZMW",
            "status": "SUCCESSFUL",
        }
    ).encode()
    answers["mtn bad signature"] = requests.put(
        mtn_url,
        data=mtn_claim,
        headers={"X-Signature-256": "sha256=" + "0" * 64, "Content-Type": "application/json"},
        timeout=10,
    ).status_code
    answers["mtn names another payment"] = requests.put(
        mtn_url, data=mtn_claim, headers=_signed_mtn(mtn_claim), timeout=10
    ).status_code

    # Airtel: one fixed URL; a wrong hash, then well-signed claims of TS for A carrying B's
    # airtel_money_id, and for B (final) again.
    airtel_url = f"{base}/api/v1/webhooks/airtel"
    key = settings.AIRTEL["test"]["CALLBACK_HASH_KEY"]
    assert key  # the test mode checks Airtel's hash
    claim_a = {
        "id": a["airtel"].provider_reference.hex,
        "message": "Paid ZMW 150",
        "status_code": "TS",
        "airtel_money_id": b["airtel"].provider_transaction_id,
    }
    json_headers = {"Content-Type": "application/json"}
    answers["airtel bad hash"] = requests.post(
        airtel_url, data=_airtel_body(claim_a, "not-the-key"), headers=json_headers, timeout=10
    ).status_code
    answers["airtel names another payment"] = requests.post(
        airtel_url, data=_airtel_body(claim_a, key), headers=json_headers, timeout=10
    ).status_code
    claim_b = {**claim_a, "id": b["airtel"].provider_reference.hex, "status_code": "TF"}
    answers["airtel final payment"] = requests.post(
        airtel_url, data=_airtel_body(claim_b, key), headers=json_headers, timeout=10
    ).status_code

    # Zamtel: a signature by the wrong secret, then a well-signed body at A's URL naming B.
    zamtel_url = f"{base}/api/v1/webhooks/zamtel/{a['zamtel'].callback_token}"
    secret = settings.ZAMTEL["test"]["CALLBACK_SECRET"]
    assert secret
    zamtel_claim = json.dumps(
        {
            "depositId": str(b["zamtel"].provider_reference),
            "status": "COMPLETED",
            "amount": "150.00",
            "currency": "ZMW",
            "providerTransactionId": b["zamtel"].provider_transaction_id,
        }
    ).encode()
    answers["zamtel bad signature"] = requests.post(
        zamtel_url,
        data=zamtel_claim,
        headers={**json_headers, **zamtel_signing.sign("wrong-secret", zamtel_claim)},
        timeout=10,
    ).status_code
    answers["zamtel names another payment"] = requests.post(
        zamtel_url,
        data=zamtel_claim,
        headers={**json_headers, **zamtel_signing.sign(secret, zamtel_claim)},
        timeout=10,
    ).status_code
    for _ in range(3):  # whatever the callbacks queued runs, and the poller with it
        merchant.run_jobs()
        time.sleep(0.3)

    assert answers == {
        "mtn bad signature": 401,
        "mtn names another payment": 200,
        "airtel bad hash": 401,
        "airtel names another payment": 200,
        "airtel final payment": 200,
        "zamtel bad signature": 401,
        "zamtel names another payment": 200,
    }
    assert _state(everything) == before  # statuses, ledger entries, audit trail
    assert {merchant.get(p["id"])["status"] for p in pending.values()} == {"PENDING"}
    stored = InboundCallback.objects.filter(pk__gt=0).order_by("id")[stored_before:]
    assert sorted((c.provider, c.signature_valid) for c in stored) == sorted(
        [
            ("mtn", False),
            ("mtn", True),
            ("airtel", False),
            ("airtel", True),
            ("airtel", True),
            ("zamtel", False),
            ("zamtel", True),
        ]
    )


# --- refunds --------------------------------------------------------------------------------


def test_a_refund_through_each_operator_that_takes_refunds(merchant) -> None:
    collected = {op: merchant.create(NUMBER[op]) for op in OPERATORS}
    settled = drive_all(merchant, [p["id"] for p in collected.values()])
    assert {p["status"] for p in settled.values()} == {"SUCCESSFUL"}

    # MTN and Zamtel refund in part; Airtel refunds a whole collection, once, by its id.
    asked = {"mtn": {"amount": "50.00"}, "zamtel": {"amount": "50.00"}, "airtel": {}}
    assert merchant.refund(collected["airtel"]["id"], amount="50.00").status_code == 409
    answers = {op: merchant.refund(collected[op]["id"], **asked[op]) for op in OPERATORS}
    assert {op: r.status_code for op, r in answers.items()} == dict.fromkeys(OPERATORS, 201)
    refunds = drive_all(merchant, [r.json()["id"] for r in answers.values()])

    for operator, answer in answers.items():
        refund = refunds[answer.json()["id"]]
        assert (refund["flow"], refund["status"], refund["provider"]) == (
            "refund",
            "SUCCESSFUL",
            operator,
        )
        assert refund["refund_of"] == collected[operator]["id"]
        assert refund["amount"] == asked[operator].get("amount", "150.00")
        assert _operations(refund["id"])[0] == "refund"
        phases = Entry.objects.filter(payment__public_id=refund["id"]).values_list(
            "phase", flat=True
        )
        assert set(phases) == {EntryPhase.PENDING, EntryPhase.POST_PENDING}
    assert merchant.balance()[1] == 0  # nothing left reserved


def test_a_lost_airtel_refund_answer_waits_for_ops_past_its_expiry(
    merchant, settings, staff
) -> None:
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [1]
    # …007 answers past our read timeout: the collection is found by enquiry, and its refund,
    # which Airtel takes (the money goes back) but offers no enquiry for, is never answered.
    collection = drive_all(merchant, [merchant.create("260970000007")["id"]])
    [collected] = collection.values()
    assert collected["status"] == "SUCCESSFUL"
    available_before, _ = merchant.balance()

    answer = merchant.refund(collected["id"])
    assert answer.status_code == 201, answer.text
    refund_id = answer.json()["id"]
    merchant.run_jobs()

    refund = merchant.get(refund_id)
    assert (refund["status"], refund["next_action"]) == ("PENDING", "manual_review")
    airtel_refund = AirtelTransaction.objects.get(
        kind=AirtelKind.REFUND, refunded_money_id=collected["provider_transaction_id"]
    )
    assert airtel_refund.scenario == "slow_refund"  # Airtel has it: the money may be gone
    assert [c.error for c in Payment.objects.get(public_id=refund_id).provider_calls.all()] == [
        "read_timeout"
    ]

    # Far past its window: neither the sweep nor the poller fails it, nor asks Airtel again.
    Payment.objects.filter(public_id=refund_id).update(
        expires_at=timezone.now() - timedelta(seconds=settings.PAYMENT_LEASE_SECONDS + 60)
    )
    assert services.expire_overdue_payments() == 0
    for _ in range(2):
        merchant.run_jobs()
        time.sleep(0.5)
    refund = merchant.get(refund_id)
    assert (refund["status"], refund["next_action"]) == ("PENDING", "manual_review")
    assert len(_operations(refund_id)) == 1
    again = merchant.refund(collected["id"])
    assert (again.status_code, again.json()["code"]) == (422, "refund_exceeds_payment")
    reserved = merchant.balance()[1]
    assert reserved == Decimal(refund["amount"]) + Decimal(refund["fee"])

    # Ops confirm the refund on Airtel's side and settle it: the reservation is posted.
    pk = Payment.objects.get(public_id=refund_id).pk
    done = staff.post(
        f"/admin/payments/payment/{pk}/resolve-review/",
        {
            "status": "SUCCESSFUL",
            "reason": "Airtel portal shows the refund paid",
            "provider_transaction_id": airtel_refund.airtel_money_id,
        },
    )

    assert done.status_code == 302
    refund = merchant.get(refund_id)
    assert (refund["status"], refund["next_action"]) == ("SUCCESSFUL", None)
    assert refund["provider_transaction_id"] == airtel_refund.airtel_money_id
    assert merchant.balance() == (available_before - reserved, Decimal("0.00"))
    assert AuditLog.objects.filter(action="payment.review_resolved").count() == 1
