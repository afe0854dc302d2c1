"""airtelmoney-py, a third-party client nobody here wrote, unmodified against the simulator
(base URL pointed at it): token, signed v2 collection, status, refund, disbursement with an
encrypted PIN, KYC, balance, and its own callback-hash check on our callback."""

from __future__ import annotations

import time
import uuid

import pytest
from airtelmoney import AirtelMoney
from airtelmoney.resources.collection import CollectionAPI

from providers.sandbox.airtel import services
from providers.sandbox.airtel.models import AirtelTransaction
from tests.providers.airtel.conftest import CLIENT_ID, CLIENT_SECRET, HASH_KEY, PIN

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(live_server) -> AirtelMoney:
    return AirtelMoney(
        CLIENT_ID,
        CLIENT_SECRET,
        base_url=f"{live_server.url}/sandbox/airtel",
        country="ZM",
        currency="ZMW",
        timeout=10,
    )


def test_the_whole_api(client) -> None:
    assert client.get_access_token()
    txn = str(uuid.uuid4())

    pushed = client.collection.payment(
        reference="Order 1", msisdn="971234567", amount=150, transaction_id=txn
    )
    assert pushed["status"]["response_code"] == "DP00800001006"
    assert AirtelTransaction.objects.get(transaction_id=txn).signed is True

    time.sleep(0.5)
    status = client.collection.enquiry(txn)["data"]["transaction"]
    assert status["status"] == "TS"

    refunded = client.collection.refund(status["airtel_money_id"])
    assert refunded["data"]["transaction"]["status"] == "SUCCESS"

    payout_id = str(uuid.uuid4())
    paid = client.disbursement.payment(
        msisdn="971234567", amount=50, reference="payout1", pin=PIN, transaction_id=payout_id
    )
    assert paid["data"]["transaction"]["id"] == payout_id
    time.sleep(0.5)
    assert client.disbursement.enquiry(payout_id)["data"]["transaction"]["status"] == "TS"

    assert client.kyc.user_enquiry("260971234567")["data"]["first_name"] == "Sand"
    assert client.account.balance()["data"]["currency"] == "ZMW"


def test_its_callback_hash_check_accepts_the_simulators_callback() -> None:
    row = AirtelTransaction(
        transaction_id="abc", amount=1, final_status="TS", airtel_money_id="MP1", client_id="c"
    )
    assert CollectionAPI.verify_callback_hash(services.callback_body(row), HASH_KEY)
