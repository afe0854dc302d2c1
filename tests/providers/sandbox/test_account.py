"""Balance and account-holder lookups."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_balance_starts_at_the_opening_amount_in_the_environments_currency(mtn) -> None:
    token = mtn.token()

    zambia = mtn.get("/collection/v1_0/account/balance", token).json()
    sandbox = mtn.get("/collection/v1_0/account/balance", token, environment="sandbox").json()

    assert zambia == {"availableBalance": "1000000", "currency": "ZMW"}
    assert sandbox == {"availableBalance": "1000000", "currency": "EUR"}


def test_balance_moves_with_settled_transactions(mtn) -> None:
    collection, disbursement = mtn.token(), mtn.token("disbursement")
    mtn.request_to_pay(collection, amount="10.25")
    mtn.request_to_pay(collection, "260960000002", amount="99")  # declined: no money moves
    mtn.transfer(disbursement)

    assert mtn.get("/collection/v1_0/account/balance", collection).json() == {
        "availableBalance": "1000010.25",
        "currency": "ZMW",
    }
    assert mtn.get("/disbursement/v1_0/account/balance", disbursement).json() == {
        "availableBalance": "999990",
        "currency": "ZMW",
    }


def test_balance_in_a_named_currency(mtn) -> None:
    token = mtn.token()

    assert mtn.get("/collection/v1_0/account/balance/ZMW", token).status_code == 200
    wrong = mtn.get("/collection/v1_0/account/balance/EUR", token)
    assert wrong.status_code == 500
    assert wrong.json()["code"] == "INVALID_CURRENCY"


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("msisdn/260961234567", 200, {"result": True}),
        ("msisdn/260960000001", 200, {"result": False}),
        ("msisdn/46733123450", 200, {"result": False}),
        ("msisdn/46733123451", 200, {"result": False}),
        ("email/payer@example.com", 200, {"result": True}),
    ],
)
def test_account_holder_active(mtn, path, status, body) -> None:
    response = mtn.get(f"/collection/v1_0/accountholder/{path}/active", mtn.token())

    assert response.status_code == status
    assert response.json() == body


@pytest.mark.parametrize(
    ("msisdn", "status", "code"),
    [
        ("46733123452", 500, "NOT_ALLOWED"),
        ("46733123453", 500, "NOT_ALLOWED_TARGET_ENVIRONMENT"),
        ("46733123454", 500, "INTERNAL_PROCESSING_ERROR"),
        ("46733123455", 503, "SERVICE_UNAVAILABLE"),
    ],
)
def test_account_holder_errors_of_mtns_sandbox(mtn, msisdn, status, code) -> None:
    response = mtn.get(
        f"/disbursement/v1_0/accountholder/msisdn/{msisdn}/active", mtn.token("disbursement")
    )

    assert response.status_code == status
    assert response.json()["code"] == code


def test_account_holder_with_a_malformed_number_is_a_bad_request(mtn) -> None:
    response = mtn.get("/collection/v1_0/accountholder/msisdn/0961234567/active", mtn.token())

    assert response.status_code == 400


def test_basic_user_info(mtn) -> None:
    token = mtn.token()

    found = mtn.get("/collection/v1_0/accountholder/msisdn/260961234567/basicuserinfo", token)
    missing = mtn.get("/collection/v1_0/accountholder/msisdn/260960000001/basicuserinfo", token)

    assert found.status_code == 200
    assert {"given_name", "family_name"} <= set(found.json())
    assert missing.status_code == 404
    assert missing.json()["code"] == "RESOURCE_NOT_FOUND"
