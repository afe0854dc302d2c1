"""A third-party MTN client, `momo_openapi`, runs unmodified against the simulator.

It only knows MTN's real sandbox URL, so a requests session sends its calls to the live
test server instead; the package itself is untouched.
"""

from __future__ import annotations

import uuid

import momo_openapi
import pytest
import requests

from tests.providers.sandbox.conftest import BASE, OTHER_SUB_KEY, REMITTANCE_SUB_KEY, SUB_KEY

pytestmark = pytest.mark.django_db(transaction=True)


class ToLiveServer(requests.Session):
    """Rewrites MTN's sandbox URL to the live test server's simulator."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        assert url.startswith(momo_openapi.SANDBOX_URL), url  # nothing else leaves the test
        url = self.base_url + url[len(momo_openapi.SANDBOX_URL) :]
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def session(live_server) -> ToLiveServer:
    return ToLiveServer(live_server.url + BASE)


def test_provisioning_token_request_to_pay_status_and_balance(session) -> None:
    collection = momo_openapi.Collection.for_sandbox(
        SUB_KEY, callback_host="127.0.0.1", session=session
    )

    assert collection.get_access_token()
    paid = collection.request_to_pay(
        "10.50", "56733123453", "order-1", payer_message="Order 1", payee_note="Order 1"
    )
    declined = collection.request_to_pay("5", "46733123451", "order-2")

    status = collection.get_transaction_status(paid)
    assert status["status"] == "SUCCESSFUL"
    assert status["financialTransactionId"].isdigit()
    assert status["payer"] == {"partyIdType": "MSISDN", "partyId": "56733123453"}
    assert status["currency"] == "EUR"
    failed = collection.get_transaction_status(declined)
    assert (failed["status"], failed["reason"]) == ("FAILED", "APPROVAL_REJECTED")
    assert collection.get_balance() == {"availableBalance": "1000010.5", "currency": "EUR"}


def test_disbursement_transfer_and_status(session) -> None:
    disbursement = momo_openapi.Disbursement.for_sandbox(OTHER_SUB_KEY, session=session)

    reference = disbursement.transfer("7", "46733123457", "payout-1")

    status = disbursement.get_transaction_status(reference)
    assert (status["status"], status["reason"]) == ("FAILED", "PAYEE_NOT_FOUND")


def test_remittance_token_transfer_status_and_balance(session) -> None:
    remittance = momo_openapi.Remittance.for_sandbox(REMITTANCE_SUB_KEY, session=session)

    paid = remittance.transfer("25", "56733123453", "remit-1", payee_note="From abroad")
    declined = remittance.transfer("5", "46733123451", "remit-2")

    status = remittance.get_transaction_status(paid)
    assert status["status"] == "SUCCESSFUL"
    assert status["payee"] == {"partyIdType": "MSISDN", "partyId": "56733123453"}
    failed = remittance.get_transaction_status(declined)
    assert (failed["status"], failed["reason"]) == ("FAILED", "APPROVAL_REJECTED")
    # The remittance account, apart from disbursement's: only its own transfer left it.
    assert remittance.get_balance() == {"availableBalance": "999975", "currency": "EUR"}


def test_a_key_of_another_product_fails_as_at_mtn(session) -> None:
    remittance = momo_openapi.Remittance.for_sandbox(OTHER_SUB_KEY, session=session)

    with pytest.raises(momo_openapi.AuthenticationError) as error:
        remittance.get_access_token()

    assert error.value.status_code == 401


def test_its_errors_carry_mtns_codes(session) -> None:
    collection = momo_openapi.Collection.for_sandbox(SUB_KEY, session=session)
    reference = collection.request_to_pay("1", "56733123453", "order-1")

    with pytest.raises(momo_openapi.MomoAPIError) as duplicate:
        collection.request_to_pay("1", "56733123453", "order-1", reference_id=reference)
    with pytest.raises(momo_openapi.MomoAPIError) as wrong_currency:
        collection.request_to_pay("1", "56733123453", "order-1", currency="ZMW")
    with pytest.raises(momo_openapi.MomoAPIError) as missing:
        collection.get_transaction_status(str(uuid.uuid4()))

    assert (duplicate.value.status_code, duplicate.value.code) == (409, "RESOURCE_ALREADY_EXIST")
    assert (wrong_currency.value.status_code, wrong_currency.value.code) == (
        500,
        "INVALID_CURRENCY",
    )
    assert (missing.value.status_code, missing.value.code) == (404, "RESOURCE_NOT_FOUND")


def test_bad_credentials_raise_its_authentication_error(session) -> None:
    config = momo_openapi.MomoConfig(
        subscription_key=SUB_KEY,
        user_id=str(uuid.uuid4()),
        credential_token="wrong",
        target_environment="sandbox",
        currency="EUR",
    )
    collection = momo_openapi.Collection(config, session=session)

    with pytest.raises(momo_openapi.AuthenticationError) as error:
        collection.get_access_token()

    assert error.value.code == "login_failed"


def test_provisioning_with_an_unknown_subscription_key_fails(session) -> None:
    with pytest.raises(momo_openapi.MomoAPIError) as error:
        momo_openapi.provision_sandbox_user("not-a-key", session=session)

    assert error.value.status_code == 401
