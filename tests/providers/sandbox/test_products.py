"""The newer endpoints of MTN's references: request to withdraw, delivery notification, the
v2 collection resources, remittance's cash transfer, and account holders by any id-type case."""

from __future__ import annotations

import uuid

import pytest

from providers.sandbox.models import MtnTransaction

pytestmark = pytest.mark.django_db

NOT_FOUND = {"code": "RESOURCE_NOT_FOUND", "message": "Requested resource was not found."}
DUPLICATE = {
    "code": "RESOURCE_ALREADY_EXIST",
    "message": "Duplicated reference id. Creation of resource failed.",
}


@pytest.mark.parametrize("version", ["v1_0", "v2_0"])
def test_request_to_withdraw_is_accepted_and_has_a_status(mtn, version) -> None:
    token = mtn.token()
    body = mtn.money_body("260961234567")

    reference, response = mtn.submit(f"/collection/{version}/requesttowithdraw", token, body)
    status = mtn.get(f"/collection/v1_0/requesttowithdraw/{reference}", token)

    assert response.status_code == 202
    assert status.status_code == 200
    assert status.json()["status"] == "SUCCESSFUL"
    assert status.json()["payer"] == {"partyIdType": "MSISDN", "partyId": "260961234567"}
    assert MtnTransaction.objects.get().version == version


def test_request_to_withdraw_follows_the_payer_scenarios(mtn) -> None:
    token = mtn.token()
    reference, _ = mtn.submit(
        "/collection/v1_0/requesttowithdraw", token, mtn.money_body("46733123451")
    )

    status = mtn.get(f"/collection/v1_0/requesttowithdraw/{reference}", token).json()

    assert (status["status"], status["reason"]) == ("FAILED", "APPROVAL_REJECTED")


def test_request_to_withdraw_validates_and_refuses_a_reused_reference(mtn) -> None:
    token = mtn.token()
    path = "/collection/v1_0/requesttowithdraw"
    reference, first = mtn.submit(path, token, mtn.money_body("260961234567"))

    _, again = mtn.submit(path, token, mtn.money_body("260961234567"), reference=reference)
    _, bad = mtn.submit(path, token, mtn.money_body("260961234567", amount="1.234"))

    assert first.status_code == 202
    assert (again.status_code, again.json()) == (409, DUPLICATE)
    assert bad.status_code == 400
    assert bad.json()["code"] == "VALIDATION_ERROR"
    # A request to pay with the same reference is another resource: accepted.
    _, other_kind = mtn.submit(
        "/collection/v1_0/requesttopay", token, mtn.money_body("260961234567"), reference=reference
    )
    assert other_kind.status_code == 202


def test_status_of_an_unknown_request_to_withdraw_is_404(mtn) -> None:
    response = mtn.get(f"/collection/v1_0/requesttowithdraw/{uuid.uuid4()}", mtn.token())

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def _notify(mtn, token, reference, *, header=None, body=None, language=None):
    headers = mtn.headers(token)
    if header is not None:
        headers["notificationMessage"] = header
    if language is not None:
        headers["Language"] = language
    return mtn.call(
        "POST",
        f"/collection/v1_0/requesttopay/{reference}/deliverynotification",
        headers=headers,
        json_body=body,
    )


@pytest.mark.parametrize(
    ("header", "body"),
    [("Your order ships today", None), (None, {"notificationMessage": "Your order ships today"})],
)
def test_delivery_notification_is_stored_from_header_or_body(mtn, header, body) -> None:
    token = mtn.token()
    reference, _ = mtn.request_to_pay(token)

    response = _notify(mtn, token, reference, header=header, body=body, language="en")

    assert response.status_code == 200
    [stored] = MtnTransaction.objects.get().notifications
    assert (stored["message"], stored["language"]) == ("Your order ships today", "en")


@pytest.mark.parametrize(
    ("header", "body", "language"),
    [
        (None, None, None),
        ("", None, None),
        ("x" * 161, None, None),
        ("Don't", None, None),
        (None, {"notificationMessage": 5}, None),
        ("fine", None, "english!"),
    ],
)
def test_delivery_notification_is_validated(mtn, header, body, language) -> None:
    token = mtn.token()
    reference, _ = mtn.request_to_pay(token)

    response = _notify(mtn, token, reference, header=header, body=body, language=language)

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert MtnTransaction.objects.get().notifications == []


def test_delivery_notification_for_an_unknown_request_is_404(mtn) -> None:
    response = _notify(mtn, mtn.token(), str(uuid.uuid4()), header="Hello")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_delivery_notification_needs_a_collection_token(mtn) -> None:
    token = mtn.token()
    reference, _ = mtn.request_to_pay(token)

    response = _notify(mtn, mtn.token("disbursement"), reference, header="Hello")

    assert response.status_code == 401


@pytest.mark.parametrize("version", ["v1_0", "v2_0"])
def test_preapproval_is_accepted_and_has_a_status(mtn, version) -> None:
    token = mtn.token()
    body = {
        "payer": {"partyIdType": "MSISDN", "partyId": "260961234567"},
        "payerCurrency": "ZMW",
        "payerMessage": "Monthly subscription",
        "validityTime": 3600,
    }

    reference, response = mtn.submit(f"/collection/{version}/preapproval", token, body)
    status = mtn.get(f"/collection/{version}/preapproval/{reference}", token)

    assert response.status_code == 202
    body = status.json()
    assert body["status"] == "SUCCESSFUL"
    assert body["payer"] == {"partyIdType": "MSISDN", "partyId": "260961234567"}
    assert (body["payerCurrency"], body["payerMessage"]) == ("ZMW", "Monthly subscription")
    assert body["expirationDateTime"].endswith("Z")


def test_preapproval_failure_reason_is_an_object(mtn) -> None:
    token = mtn.token()
    body = {"payer": {"partyIdType": "MSISDN", "partyId": "260960000002"}, "payerCurrency": "ZMW"}
    reference, _ = mtn.submit("/collection/v2_0/preapproval", token, body)

    status = mtn.get(f"/collection/v2_0/preapproval/{reference}", token).json()

    assert status["status"] == "FAILED"
    assert status["reason"]["code"] == "APPROVAL_REJECTED"


@pytest.mark.parametrize(
    "body",
    [
        {"payerCurrency": "ZMW"},
        {"payer": {"partyIdType": "MSISDN", "partyId": "260961234567"}},
        {"payer": {"partyIdType": "MSISDN", "partyId": "x"}, "payerCurrency": "ZMW"},
        {
            "payer": {"partyIdType": "MSISDN", "partyId": "260961234567"},
            "payerCurrency": "ZMW",
            "validityTime": "soon",
        },
    ],
)
def test_preapproval_is_validated(mtn, body) -> None:
    _, response = mtn.submit("/collection/v2_0/preapproval", mtn.token(), body)

    assert response.status_code == 400
    assert not MtnTransaction.objects.exists()


def _invoice(**extra):
    body = {
        "externalId": "inv-1",
        "amount": "49.50",
        "currency": "ZMW",
        "validityDuration": "3600",
        "intendedPayer": {"partyIdType": "MSISDN", "partyId": "260961234567"},
        "payee": {"partyIdType": "MSISDN", "partyId": "260969999999"},
        "description": "Invoice 1",
    }
    body.update(extra)
    return body


def test_invoice_is_accepted_and_has_a_status(mtn) -> None:
    token = mtn.token()

    reference, response = mtn.submit("/collection/v2_0/invoice", token, _invoice())
    status = mtn.get(f"/collection/v2_0/invoice/{reference}", token).json()

    assert response.status_code == 202
    assert status["referenceId"] == reference
    assert (status["status"], status["amount"], status["currency"]) == ("SUCCESSFUL", "49.5", "ZMW")
    assert status["intendedPayer"] == {"partyIdType": "MSISDN", "partyId": "260961234567"}
    assert status["description"] == "Invoice 1"
    assert status["paymentReference"].isdigit()


@pytest.mark.parametrize(
    "extra",
    [{"validityDuration": "-5"}, {"intendedPayer": None}, {"amount": "0"}, {"externalId": None}],
)
def test_invoice_is_validated(mtn, extra) -> None:
    _, response = mtn.submit("/collection/v2_0/invoice", mtn.token(), _invoice(**extra))

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_invoice_in_the_wrong_currency_is_mtns_500(mtn) -> None:
    _, response = mtn.submit("/collection/v2_0/invoice", mtn.token(), _invoice(currency="EUR"))

    assert response.status_code == 500
    assert response.json()["code"] == "INVALID_CURRENCY"


def test_v2_payment_is_accepted_and_has_a_status(mtn) -> None:
    token = mtn.token()
    body = {
        "externalTransactionId": "pay-1",
        "money": {"amount": "15", "currency": "ZMW"},
        "customerReference": "260961234567",
        "serviceProviderUserName": "shop",
    }

    reference, response = mtn.submit("/collection/v2_0/payment", token, body)
    status = mtn.get(f"/collection/v2_0/payment/{reference}", token).json()
    declined_ref, _ = mtn.submit(
        "/collection/v2_0/payment", token, {**body, "customerReference": "260960000005"}
    )
    declined = mtn.get(f"/collection/v2_0/payment/{declined_ref}", token).json()

    assert response.status_code == 202
    assert status["referenceId"] == reference
    assert status["status"] == "SUCCESSFUL"
    assert status["financialTransactionId"].isdigit()
    assert declined["status"] == "FAILED"
    assert declined["reason"]["code"] == "NOT_ENOUGH_FUNDS"


def test_v2_payment_needs_its_money_object(mtn) -> None:
    _, response = mtn.submit(
        "/collection/v2_0/payment", mtn.token(), {"externalTransactionId": "x", "amount": "1"}
    )

    assert response.status_code == 400


def test_remittance_cash_transfer_echoes_the_sender(mtn) -> None:
    token = mtn.token("remittance")
    body = mtn.money_body(
        "260961234567",
        role="payee",
        orginatingCountry="GB",
        originalAmount="10",
        originalCurrency="GBP",
        payerFirstName="Ada",
        payerSurName="Lovelace",
    )

    reference, response = mtn.submit("/remittance/v2_0/cashtransfer", token, body)
    status = mtn.get(f"/remittance/v2_0/cashtransfer/{reference}", token).json()

    assert response.status_code == 202
    assert status["status"] == "SUCCESSFUL"
    assert (status["payerFirstName"], status["originalCurrency"]) == ("Ada", "GBP")
    assert status["payee"] == {"partyIdType": "MSISDN", "partyId": "260961234567"}


def test_remittance_cash_transfer_needs_the_original_amount(mtn) -> None:
    body = mtn.money_body("260961234567", role="payee", orginatingCountry="GB")

    _, response = mtn.submit("/remittance/v2_0/cashtransfer", mtn.token("remittance"), body)

    assert response.status_code == 400


def test_remittance_transfers_are_apart_from_disbursements(mtn) -> None:
    """Each product has its own reference namespace and its own account."""
    reference, remitted = mtn.submit(
        "/remittance/v1_0/transfer",
        mtn.token("remittance"),
        mtn.money_body("260961234567", role="payee", amount="30"),
    )

    disbursement = mtn.token("disbursement")
    unknown = mtn.get(f"/disbursement/v1_0/transfer/{reference}", disbursement)
    disbursed = mtn.get("/disbursement/v1_0/account/balance", disbursement).json()
    remittance = mtn.get("/remittance/v1_0/account/balance", mtn.token("remittance")).json()

    assert remitted.status_code == 202
    assert unknown.status_code == 404
    assert disbursed["availableBalance"] == "1000000"
    assert remittance["availableBalance"] == "999970"


@pytest.mark.parametrize("id_type", ["msisdn", "MSISDN", "Msisdn"])
@pytest.mark.parametrize("product", ["collection", "disbursement", "remittance"])
def test_account_holder_id_type_is_accepted_in_any_case(mtn, id_type, product) -> None:
    token = mtn.token(product)

    active = mtn.get(f"/{product}/v1_0/accountholder/{id_type}/260961234567/active", token)
    info = mtn.get(f"/{product}/v1_0/accountholder/{id_type}/260961234567/basicuserinfo", token)

    assert (active.status_code, active.json()) == (200, {"result": True})
    assert info.status_code == 200
    assert set(info.json()) == {
        "given_name",
        "family_name",
        "birthdate",
        "locale",
        "gender",
        "status",
    }


def test_unknown_id_type_is_apims_404(mtn) -> None:
    response = mtn.get("/collection/v1_0/accountholder/iban/123/active", mtn.token())

    assert response.status_code == 404
    assert response.json()["statusCode"] == 404
