"""The simulator checks credentials the way MTN (and Azure API Management in front) does."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from providers.sandbox.models import MtnAccessToken
from tests.providers.sandbox.conftest import (
    API_KEY,
    KEYS,
    OTHER_SUB_KEY,
    SUB_KEY,
    USER_ID,
    basic,
)

pytestmark = pytest.mark.django_db

APIM_INVALID_KEY = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription.",
}


def test_token_is_issued_for_valid_credentials(mtn, simulator_settings) -> None:
    simulator_settings.MTN_SIMULATOR_TOKEN_TTL_SECONDS = 1800

    response = mtn.token_response("collection")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "access_token"
    assert body["expires_in"] == 1800
    assert body["access_token"].count(".") == 2  # shaped like MTN's JWTs


def test_token_is_stored_only_as_a_hash(mtn) -> None:
    token = mtn.token("disbursement")

    row = MtnAccessToken.objects.get()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert str(row.api_user_id) == USER_ID
    assert row.product == "disbursement"


def test_token_is_refused_when_the_api_key_is_wrong(mtn) -> None:
    response = mtn.token_response(authorization=basic(USER_ID, "wrong"))

    assert response.status_code == 401
    assert response.json() == {"error": "login_failed"}


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "Basic !!!",
        basic(str(uuid.uuid4()), API_KEY),
        basic("not-a-uuid", API_KEY),
        "Basic " + "bm9jb2xvbg==",  # "nocolon"
    ],
)
def test_token_is_refused_when_the_credentials_are_unusable(mtn, authorization) -> None:
    response = mtn.token_response(authorization=authorization)

    assert response.status_code == 401
    assert response.json() == {"error": "login_failed"}


TOKEN_BODIES = [
    b"{}",
    b"null",
    b'{"grant_type":"client_credentials"}',
    b"grant_type=client_credentials",
]


@pytest.mark.parametrize("body", TOKEN_BODIES)
def test_token_request_with_a_body_is_answered_as_without_one(mtn, body) -> None:
    """Clients send `{}`, `null` or a grant_type there, and MTN's sandbox answers them."""
    response = mtn.token_response(body=body)

    assert response.status_code == 200
    assert response.json()["token_type"] == "access_token"


@pytest.mark.parametrize("body", TOKEN_BODIES)
def test_token_request_with_a_body_is_a_bad_request_when_strict(
    mtn, simulator_settings, body
) -> None:
    simulator_settings.MTN_SIMULATOR_STRICT_TOKEN_BODY = True

    response = mtn.token_response(body=body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "VALIDATION_ERROR",
        "message": "The token request must not have a body.",
    }
    assert not MtnAccessToken.objects.exists()


def test_token_request_without_a_body_is_served_when_strict(mtn, simulator_settings) -> None:
    simulator_settings.MTN_SIMULATOR_STRICT_TOKEN_BODY = True

    assert mtn.token_response().status_code == 200


def test_token_without_trailing_slash_is_served_too(mtn) -> None:
    response = mtn.call(
        "POST",
        "/collection/token",
        headers={"Authorization": basic(), "Ocp-Apim-Subscription-Key": SUB_KEY},
    )

    assert response.status_code == 200


@pytest.mark.parametrize("sub_key", [None, "not-a-known-key", OTHER_SUB_KEY])
def test_token_is_refused_without_a_valid_subscription_key(mtn, sub_key) -> None:
    response = mtn.token_response(sub_key=sub_key)

    assert response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert response.json()["message"].startswith("Access denied due to")


def test_product_call_with_a_bad_subscription_key_gets_apim_401(mtn) -> None:
    token = mtn.token()

    response = mtn.call(
        "GET",
        "/collection/v1_0/account/balance",
        headers=mtn.headers(token, sub_key="wrong-key"),
    )

    assert response.status_code == 401
    assert response.json() == APIM_INVALID_KEY


@pytest.mark.parametrize("product", ["collection", "disbursement", "remittance"])
def test_each_products_key_opens_only_its_own_products_paths(mtn, product) -> None:
    token = mtn.token(product)
    path = f"/{product}/v1_0/account/balance"

    own = mtn.call("GET", path, headers=mtn.headers(token, sub_key=KEYS[product]))
    others = [
        mtn.call("GET", path, headers=mtn.headers(token, sub_key=key))
        for other, key in KEYS.items()
        if other != product
    ]

    assert own.status_code == 200
    assert [(r.status_code, r.json()) for r in others] == [(401, APIM_INVALID_KEY)] * 2


def test_a_token_of_another_product_is_refused(mtn) -> None:
    token = mtn.token("remittance")

    response = mtn.call(
        "GET",
        "/disbursement/v1_0/account/balance",
        headers=mtn.headers(token, product="disbursement"),
    )

    assert response.status_code == 401
    assert response.json()["statusCode"] == 401


def test_every_products_key_provisions_sandbox_users(mtn) -> None:
    for key in KEYS.values():
        response = mtn.call(
            "POST",
            "/v1_0/apiuser",
            headers={"X-Reference-Id": str(uuid.uuid4()), "Ocp-Apim-Subscription-Key": key},
            json_body={"providerCallbackHost": "merchant.example"},
        )
        assert response.status_code == 201


def test_request_to_pay_without_a_token_is_unauthorized(mtn) -> None:
    headers = mtn.headers("x", **{"X-Reference-Id": str(uuid.uuid4())})
    del headers["Authorization"]

    response = mtn.call(
        "POST",
        "/collection/v1_0/requesttopay",
        headers=headers,
        json_body=mtn.money_body("260961234567"),
    )

    assert response.status_code == 401
    assert response.json()["statusCode"] == 401


def test_request_to_pay_with_an_unknown_token_is_unauthorized(mtn) -> None:
    _, response = mtn.request_to_pay("not-a-token")

    assert response.status_code == 401


def test_token_stops_working_when_it_expires(mtn, clock, simulator_settings) -> None:
    simulator_settings.MTN_SIMULATOR_TOKEN_TTL_SECONDS = 60
    token = mtn.token()
    assert mtn.get("/collection/v1_0/account/balance", token).status_code == 200

    clock.advance(61)

    response = mtn.get("/collection/v1_0/account/balance", token)
    assert response.status_code == 401
    _, response = mtn.request_to_pay(token)
    assert response.status_code == 401


def test_token_of_another_product_is_unauthorized(mtn) -> None:
    disbursement_token = mtn.token("disbursement")
    collection_token = mtn.token("collection")

    _, response = mtn.request_to_pay(disbursement_token)
    assert response.status_code == 401
    _, response = mtn.transfer(collection_token)
    assert response.status_code == 401
    _, response = mtn.transfer(disbursement_token)
    assert response.status_code == 202


def test_target_environment_is_required(mtn) -> None:
    token = mtn.token()
    headers = mtn.headers(token)
    del headers["X-Target-Environment"]

    response = mtn.call("GET", "/collection/v1_0/account/balance", headers=headers)

    assert response.status_code == 400


def test_unknown_target_environment_is_not_allowed(mtn) -> None:
    token = mtn.token()

    response = mtn.get("/collection/v1_0/account/balance", token, environment="mtnuganda")

    assert response.status_code == 500
    assert response.json()["code"] == "NOT_ALLOWED_TARGET_ENVIRONMENT"
    assert set(response.json()) == {"code", "message"}


def test_unknown_route_gets_apim_404(mtn) -> None:
    response = mtn.call("GET", "/collection/v9_9/nothing")

    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Resource not found"}


def test_wrong_method_gets_apim_404(mtn) -> None:
    response = mtn.call("GET", "/collection/v1_0/requesttopay")

    assert response.status_code == 404
    assert response.json()["statusCode"] == 404
