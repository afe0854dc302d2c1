"""MTN's sandbox provisioning API: API user, API key, then a token with them."""

from __future__ import annotations

import uuid

import pytest

from providers.sandbox.models import MtnApiUser
from tests.providers.sandbox.conftest import SUB_KEY, USER_ID, basic

pytestmark = pytest.mark.django_db


def _create_user(mtn, user_id: str, host="merchant.example", sub_key=SUB_KEY):
    headers = {"X-Reference-Id": user_id}
    if sub_key:
        headers["Ocp-Apim-Subscription-Key"] = sub_key
    return mtn.call(
        "POST", "/v1_0/apiuser", headers=headers, json_body={"providerCallbackHost": host}
    )


def _create_key(mtn, user_id: str):
    return mtn.call(
        "POST", f"/v1_0/apiuser/{user_id}/apikey", headers={"Ocp-Apim-Subscription-Key": SUB_KEY}
    )


def test_provisioning_flow_gives_working_sandbox_credentials(mtn) -> None:
    user_id = str(uuid.uuid4())

    created = _create_user(mtn, user_id, host="127.0.0.1")
    assert created.status_code == 201
    assert created.content == b""

    described = mtn.call(
        "GET", f"/v1_0/apiuser/{user_id}", headers={"Ocp-Apim-Subscription-Key": SUB_KEY}
    )
    assert described.status_code == 200
    assert described.json() == {"providerCallbackHost": "127.0.0.1", "targetEnvironment": "sandbox"}

    key_response = _create_key(mtn, user_id)
    assert key_response.status_code == 201
    api_key = key_response.json()["apiKey"]
    assert MtnApiUser.objects.get(pk=user_id).api_key_hash != api_key

    token = mtn.token(authorization=basic(user_id, api_key))
    _, response = mtn.request_to_pay(token, environment="sandbox", currency="EUR")
    assert response.status_code == 202


def test_reused_api_user_id_is_a_conflict(mtn) -> None:
    user_id = str(uuid.uuid4())
    assert _create_user(mtn, user_id).status_code == 201

    again = _create_user(mtn, user_id, host="other.example")

    assert again.status_code == 409
    assert again.json()["code"] == "RESOURCE_ALREADY_EXIST"
    assert MtnApiUser.objects.get(pk=user_id).provider_callback_host == "merchant.example"


def test_preprovisioned_user_id_cannot_be_provisioned_again(mtn) -> None:
    assert _create_user(mtn, USER_ID).status_code == 409


def test_api_user_needs_a_uuid4_reference(mtn) -> None:
    assert _create_user(mtn, "123").status_code == 400
    assert _create_user(mtn, str(uuid.uuid1())).status_code == 400


def test_api_user_needs_a_callback_host(mtn) -> None:
    response = mtn.call(
        "POST",
        "/v1_0/apiuser",
        headers={"X-Reference-Id": str(uuid.uuid4()), "Ocp-Apim-Subscription-Key": SUB_KEY},
        json_body={},
    )

    assert response.status_code == 400


def test_provisioning_needs_a_subscription_key(mtn) -> None:
    response = _create_user(mtn, str(uuid.uuid4()), sub_key=None)

    assert response.status_code == 401


def test_api_key_of_an_unknown_user_is_not_found(mtn) -> None:
    response = _create_key(mtn, str(uuid.uuid4()))

    assert response.status_code == 404
    assert response.json()["code"] == "RESOURCE_NOT_FOUND"


def test_new_api_key_replaces_the_old_one(mtn) -> None:
    user_id = str(uuid.uuid4())
    _create_user(mtn, user_id)
    first = _create_key(mtn, user_id).json()["apiKey"]
    second = _create_key(mtn, user_id).json()["apiKey"]

    assert mtn.token_response(authorization=basic(user_id, first)).status_code == 401
    assert mtn.token_response(authorization=basic(user_id, second)).status_code == 200


def test_user_without_api_key_cannot_get_a_token(mtn) -> None:
    user_id = str(uuid.uuid4())
    _create_user(mtn, user_id)

    assert mtn.token_response(authorization=basic(user_id, "")).status_code == 401


def test_sandbox_user_may_not_use_a_production_environment(mtn) -> None:
    user_id = str(uuid.uuid4())
    _create_user(mtn, user_id)
    token = mtn.token(authorization=basic(user_id, _create_key(mtn, user_id).json()["apiKey"]))

    _, response = mtn.request_to_pay(token, environment="mtnzambia")

    assert response.status_code == 500
    assert response.json()["code"] == "NOT_ALLOWED_TARGET_ENVIRONMENT"


def test_preprovisioned_users_are_not_visible_through_provisioning(mtn) -> None:
    response = mtn.call(
        "GET", f"/v1_0/apiuser/{USER_ID}", headers={"Ocp-Apim-Subscription-Key": SUB_KEY}
    )

    assert response.status_code == 404


def test_callback_host_of_a_provisioned_user_is_the_registered_one(mtn) -> None:
    user_id = str(uuid.uuid4())
    _create_user(mtn, user_id, host="merchant.example")
    token = mtn.token(authorization=basic(user_id, _create_key(mtn, user_id).json()["apiKey"]))

    _, good = mtn.request_to_pay(
        token,
        environment="sandbox",
        currency="EUR",
        callback_url="https://merchant.example/momo/callback",
    )
    _, bad = mtn.request_to_pay(
        token, environment="sandbox", currency="EUR", callback_url="http://127.0.0.1/cb"
    )

    assert good.status_code == 202
    assert bad.status_code == 500
    assert bad.json()["code"] == "INVALID_CALLBACK_URL_HOST"
