"""A second third-party MTN client, `mtnmomo` (PyPI `mtnmomo-py`), runs unmodified against the
simulator over real HTTP: the newer collection endpoints, disbursement, sandbox provisioning.

Its `TransactionResult` reads `reason` as an object, while MTN's v1 status GETs give a string
(providers.md §1.5), so a FAILED v1 status cannot be parsed by it at MTN either: these tests
read FAILED outcomes only where MTN gives an object (the v2 resources).
"""

from __future__ import annotations

import uuid

import pytest
from mtnmomo import errors as momo_errors
from mtnmomo.client import MoMoClient
from mtnmomo.config import MoMoConfig, ProductCredentials

from providers.sandbox.mtn import scenarios
from tests.providers.sandbox.conftest import API_KEY, BASE, OTHER_SUB_KEY, SUB_KEY, USER_ID

pytestmark = pytest.mark.django_db(transaction=True)

PAYER = {"partyIdType": "MSISDN", "partyId": "260961234567"}


@pytest.fixture
def client(live_server):
    config = MoMoConfig(
        collection=ProductCredentials(SUB_KEY, USER_ID, API_KEY),
        disbursement=ProductCredentials(OTHER_SUB_KEY, USER_ID, API_KEY),
        target_environment="mtnzambia",
        base_url=live_server.url + BASE,
    )
    with MoMoClient(config) as momo:
        yield momo


def _money(**extra):
    body = {"amount": "12", "currency": "ZMW", "externalId": "order-9", "payerMessage": "Hi"}
    body.update(extra)
    return body


def test_collection_request_to_pay_status_and_delivery_notification(client) -> None:
    collection = client.collection

    reference = collection.request_to_pay(_money(payer=PAYER, payeeNote="Order 9"))
    status = collection.get_request_to_pay_status(reference)
    collection.send_request_to_pay_delivery_notification(reference, "Shipped", language="en")

    assert status.status == "SUCCESSFUL"
    assert status.payer is not None and status.payer.party_id == "260961234567"
    assert status.financial_transaction_id


@pytest.mark.parametrize("version", ["v1_0", "v2_0"])
def test_request_to_withdraw(client, version) -> None:
    reference = client.collection.request_to_withdraw(_money(payer=PAYER), version=version)

    assert client.collection.get_request_to_withdraw_status(reference).status == "SUCCESSFUL"


def test_account_holder_with_the_id_type_in_capitals(client) -> None:
    collection = client.collection

    assert collection.validate_account_holder_status("MSISDN", "260961234567") is True
    assert collection.validate_account_holder_status("MSISDN", "260960000001") is False
    info = collection.get_basic_user_info("MSISDN", "260961234567")
    assert (info["given_name"], info["family_name"]) == scenarios.holder_names("260961234567")


def test_consent_flow_reads_the_holders_info(client) -> None:
    collection = client.collection

    consent = collection.authorize_ciba(
        {"login_hint": "ID:260961234567/MSISDN", "scope": "profile", "access_type": "offline"}
    )
    token = collection.create_oauth2_token(
        {"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": consent["auth_req_id"]}
    )
    info = collection.get_user_info_with_consent(token.access_token)

    assert token.refresh_token
    assert token.refresh_token_expires_in
    assert info["sub"] == "260961234567"
    assert (info["given_name"], info["family_name"]) == scenarios.holder_names("260961234567")


def test_preapproval_invoice_and_payment(client) -> None:
    collection = client.collection

    preapproval = collection.create_preapproval(
        {"payer": PAYER, "payerCurrency": "ZMW", "payerMessage": "Monthly", "validityTime": 60}
    )
    invoice = collection.create_invoice(
        {
            "externalId": "inv-9",
            "amount": "20",
            "currency": "ZMW",
            "validityDuration": "600",
            "intendedPayer": PAYER,
            "payee": {"partyIdType": "MSISDN", "partyId": "260969999999"},
            "description": "Invoice 9",
        }
    )
    payment = collection.create_payment(
        {
            "externalTransactionId": "pay-9",
            "money": {"amount": "5", "currency": "ZMW"},
            "customerReference": "260960000005",
        }
    )

    assert collection.get_preapproval_status(preapproval)["status"] == "SUCCESSFUL"
    assert collection.get_invoice_status(invoice)["status"] == "SUCCESSFUL"
    failed = collection.get_payment_status(payment)
    assert (failed["status"], failed["reason"]["code"]) == ("FAILED", "NOT_ENOUGH_FUNDS")


def test_balances_of_both_products(client) -> None:
    client.collection.request_to_pay(_money(payer=PAYER))
    client.disbursement.transfer(_money(payee=PAYER))

    collection = client.collection.get_account_balance()
    disbursement = client.disbursement.get_account_balance("ZMW")

    assert (collection.available_balance, collection.currency) == ("1000012", "ZMW")
    assert (disbursement.available_balance, disbursement.currency) == ("999988", "ZMW")


@pytest.mark.parametrize("version", ["v1_0", "v2_0"])
def test_disbursement_transfer_deposit_and_refund(client, version) -> None:
    disbursement = client.disbursement
    paid = client.collection.request_to_pay(_money(payer=PAYER))

    transfer = disbursement.transfer(_money(payee=PAYER))
    deposit = disbursement.deposit(_money(payee=PAYER), version=version)
    refund = disbursement.refund(_money(referenceIdToRefund=paid, amount="2"), version=version)

    assert disbursement.get_transfer_status(transfer).status == "SUCCESSFUL"
    assert disbursement.get_deposit_status(deposit).status == "SUCCESSFUL"
    refunded = disbursement.get_refund_status(refund)
    assert refunded.status == "SUCCESSFUL"
    assert refunded.payee is not None and refunded.payee.party_id == "260961234567"
    assert disbursement.validate_account_holder_status("msisdn", "260961234567") is True


def test_sandbox_provisioning(live_server) -> None:
    config = MoMoConfig(
        collection=ProductCredentials(SUB_KEY, "unused", "unused"),
        base_url=live_server.url + BASE,
    )
    with MoMoClient(config) as momo:
        assert momo.sandbox is not None
        user_id = momo.sandbox.create_api_user("127.0.0.1")
        api_key = momo.sandbox.create_api_key(user_id)
        user = momo.sandbox.get_api_user(user_id)

    assert user is not None and user.provider_callback_host == "127.0.0.1"
    sandbox = MoMoConfig(
        collection=ProductCredentials(SUB_KEY, user_id, api_key),
        base_url=live_server.url + BASE,
    )
    with MoMoClient(sandbox) as momo:
        assert momo.collection is not None
        reference = momo.collection.request_to_pay(_money(payer=PAYER, currency="EUR"))
        assert momo.collection.get_request_to_pay_status(reference).currency == "EUR"


def test_its_errors_carry_mtns_status_and_code(client) -> None:
    reference = str(uuid.uuid4())
    client.collection.request_to_pay(_money(payer=PAYER), reference_id=reference)

    with pytest.raises(momo_errors.MoMoConflictError) as duplicate:
        client.collection.request_to_pay(_money(payer=PAYER), reference_id=reference)
    with pytest.raises(momo_errors.MoMoNotFoundError):
        client.collection.get_request_to_pay_status(str(uuid.uuid4()))
    with pytest.raises(momo_errors.MoMoValidationError):
        client.collection.send_request_to_pay_delivery_notification(reference, "x" * 200)

    assert duplicate.value.code == "RESOURCE_ALREADY_EXIST"


def test_a_key_of_another_product_is_refused(live_server) -> None:
    mixed = MoMoConfig(
        disbursement=ProductCredentials(SUB_KEY, USER_ID, API_KEY),
        target_environment="mtnzambia",
        base_url=live_server.url + BASE,
    )
    with MoMoClient(mixed) as momo, pytest.raises(momo_errors.MoMoAuthenticationError):
        assert momo.disbursement is not None
        momo.disbursement.create_access_token()
