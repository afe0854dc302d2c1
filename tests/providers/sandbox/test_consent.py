"""The consent (CIBA) flow: bc-authorize, the oauth2 token, the holder's userinfo."""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import pytest

from providers.sandbox.models import MtnAccessToken, MtnConsent
from providers.sandbox.mtn import scenarios
from tests.providers.sandbox.conftest import KEYS, basic

pytestmark = pytest.mark.django_db

CIBA = "urn:openid:params:grant-type:ciba"


def _form(mtn, path, fields, *, product="collection", authorization=None, environment="mtnzambia"):
    headers = {
        "Authorization": authorization or basic(),
        "Ocp-Apim-Subscription-Key": KEYS[product],
        "X-Target-Environment": environment,
    }
    return mtn.send(
        "POST",
        path,
        headers,
        urlencode(fields).encode(),
    )


def authorize(mtn, msisdn="260961234567", *, product="collection", **fields):
    values = {"login_hint": f"ID:{msisdn}/MSISDN", "scope": "profile", "access_type": "offline"}
    values.update(fields)
    return _form(mtn, f"/{product}/v1_0/bc-authorize", values, product=product)


def token(mtn, auth_req_id, *, product="collection", grant_type=CIBA):
    fields = {"grant_type": grant_type, "auth_req_id": auth_req_id}
    return _form(mtn, f"/{product}/oauth2/token/", fields, product=product)


def userinfo(mtn, access_token, *, product="collection"):
    headers = {
        "Authorization": f"Bearer {access_token}",
        "Ocp-Apim-Subscription-Key": KEYS[product],
        "X-Target-Environment": "mtnzambia",
    }
    return mtn.call("GET", f"/{product}/oauth2/v1_0/userinfo", headers=headers)


@pytest.fixture
def form_mtn(mtn):
    """The MtnApi client, sending form bodies as OAuth clients do."""
    from django.test import Client

    from tests.providers.sandbox.conftest import BASE

    client = Client()

    def send(method, path, headers, body):
        return client.generic(
            method,
            BASE + path,
            data=body or b"",
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )

    mtn.send = send
    return mtn


@pytest.mark.parametrize("product", ["collection", "disbursement", "remittance"])
def test_consent_flow_end_to_end_reads_the_holders_names(form_mtn, product) -> None:
    started = authorize(form_mtn, product=product)
    assert started.status_code == 200
    consent = started.json()
    assert set(consent) == {"auth_req_id", "interval", "expires_in"}

    issued = token(form_mtn, consent["auth_req_id"], product=product)
    assert issued.status_code == 200
    body = issued.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "profile"
    assert body["refresh_token"]  # offline access

    info = userinfo(form_mtn, body["access_token"], product=product)
    given, family = scenarios.holder_names("260961234567")
    assert info.status_code == 200
    assert info.json()["sub"] == "260961234567"
    assert (info.json()["given_name"], info.json()["family_name"]) == (given, family)
    assert info.json()["name"] == f"{given} {family}"


def test_online_consent_has_no_refresh_token(form_mtn) -> None:
    consent = authorize(form_mtn, access_type="online").json()

    body = token(form_mtn, consent["auth_req_id"]).json()

    assert "refresh_token" not in body


@pytest.mark.parametrize(
    "fields",
    [
        {"login_hint": "260961234567"},
        {"login_hint": "ID:260961234567/EMAIL"},
        {"login_hint": "ID:abc/MSISDN"},
        {"scope": ""},
        {"access_type": "forever"},
    ],
)
def test_bc_authorize_is_validated(form_mtn, fields) -> None:
    response = authorize(form_mtn, **fields)

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert not MtnConsent.objects.exists()


def test_bc_authorize_needs_the_api_users_credentials(form_mtn) -> None:
    response = _form(
        form_mtn,
        "/collection/v1_0/bc-authorize",
        {"login_hint": "ID:260961234567/MSISDN", "scope": "profile", "access_type": "online"},
        authorization=basic(api_key="wrong"),
    )

    assert (response.status_code, response.json()) == (401, {"error": "login_failed"})


def test_bc_authorize_for_an_unknown_holder_is_unknown_user_id(form_mtn) -> None:
    response = authorize(form_mtn, "260960000001")

    assert response.status_code == 400
    assert response.json()["error"] == "unknown_user_id"


@pytest.mark.parametrize("msisdn", ["260960000002", "46733123451"])
def test_a_declined_consent_is_access_denied(form_mtn, msisdn) -> None:
    consent = authorize(form_mtn, msisdn).json()

    response = token(form_mtn, consent["auth_req_id"])

    assert response.status_code == 400
    assert response.json()["error"] == "access_denied"
    assert not MtnAccessToken.objects.exclude(subject="").exists()


def test_token_before_the_holder_answers_is_authorization_pending(
    form_mtn, simulator_settings
) -> None:
    simulator_settings.MTN_SIMULATOR_CALLBACK_DELAY_SECONDS = 60
    consent = authorize(form_mtn).json()

    response = token(form_mtn, consent["auth_req_id"])

    assert response.status_code == 400
    assert response.json()["error"] == "authorization_pending"


def test_an_expired_consent_request_is_expired_token(form_mtn, clock) -> None:
    consent = authorize(form_mtn).json()
    clock.advance(consent["expires_in"] + 1)

    response = token(form_mtn, consent["auth_req_id"])

    assert response.json()["error"] == "expired_token"


def test_auth_req_id_is_redeemed_once(form_mtn) -> None:
    consent = authorize(form_mtn).json()

    first = token(form_mtn, consent["auth_req_id"])
    second = token(form_mtn, consent["auth_req_id"])

    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("grant_type", "auth_req_id", "error"),
    [
        ("client_credentials", None, "unsupported_grant_type"),
        (CIBA, "", "invalid_request"),
        (CIBA, "not-a-uuid", "invalid_grant"),
        (CIBA, "5d5c8a4e-6a35-4b1d-9e55-7c1f4a9f0a11", "invalid_grant"),
    ],
)
def test_oauth2_token_errors_are_oauths(form_mtn, grant_type, auth_req_id, error) -> None:
    consent = authorize(form_mtn).json()

    response = token(
        form_mtn,
        consent["auth_req_id"] if auth_req_id is None else auth_req_id,
        grant_type=grant_type,
    )

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_consent_of_one_product_is_unknown_to_another(form_mtn) -> None:
    consent = authorize(form_mtn, product="collection").json()

    response = token(form_mtn, consent["auth_req_id"], product="disbursement")

    assert response.json()["error"] == "invalid_grant"


def test_userinfo_refuses_a_product_token_and_a_product_refuses_a_consent_token(form_mtn) -> None:
    consent = authorize(form_mtn).json()
    consent_token = token(form_mtn, consent["auth_req_id"]).json()["access_token"]

    with_product_token = userinfo(form_mtn, form_mtn.token())
    balance = form_mtn.get("/collection/v1_0/account/balance", consent_token)

    assert with_product_token.status_code == 401
    assert balance.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_issue_one_token(form_mtn, live_server) -> None:
    import requests

    consent = authorize(form_mtn).json()
    url = f"{live_server.url}/sandbox/mtn/collection/oauth2/token/"
    headers = {"Authorization": basic(), "Ocp-Apim-Subscription-Key": KEYS["collection"]}
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def redeem() -> None:
        barrier.wait()
        response = requests.post(
            url,
            headers=headers,
            data={"grant_type": CIBA, "auth_req_id": consent["auth_req_id"]},
            timeout=30,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 400, 400, 400]
    assert MtnAccessToken.objects.exclude(subject="").count() == 1
