"""The simulator's tables are visible, read-only, in the admin; its routes are not in the
merchant API's schema."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command
from django.test import Client

from providers.sandbox.models import MtnTransaction
from tests.providers.sandbox.conftest import API_KEY, KEYS, USER_ID

pytestmark = pytest.mark.django_db

MODELS = [
    "mtnapiuser",
    "mtnaccesstoken",
    "mtntransaction",
    "mtncallbackattempt",
    "mtnrejectedattempt",
    "mtnconsent",
]


@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders_without_add_permission(admin_client, mtn, model) -> None:
    mtn.request_to_pay(mtn.token(), callback_url="http://127.0.0.1/cb")

    response = admin_client.get(f"/admin/sandbox/{model}/")

    assert response.status_code == 200
    assert admin_client.get(f"/admin/sandbox/{model}/add/").status_code == 403


def test_transaction_page_is_read_only(admin_client, mtn) -> None:
    mtn.request_to_pay(mtn.token())
    row = MtnTransaction.objects.get()

    page = admin_client.get(f"/admin/sandbox/mtntransaction/{row.pk}/change/")
    post = admin_client.post(f"/admin/sandbox/mtntransaction/{row.pk}/change/", {"amount": "1"})

    assert page.status_code == 200
    assert post.status_code == 403
    assert MtnTransaction.objects.get().amount == 10


def test_simulator_is_not_in_the_openapi_schema() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert not [path for path in schema["paths"] if "sandbox" in path]


def test_api_users_page_shows_the_credentials_of_every_product(admin_client) -> None:
    page = admin_client.get("/admin/sandbox/mtnapiuser/").content.decode()

    for key in KEYS.values():
        assert key in page
    assert USER_ID in page and API_KEY in page
    assert "http://testserver/sandbox/mtn" in page


def test_credentials_command_prints_them(capsys) -> None:
    call_command("mtn_sandbox_credentials", base_url="http://127.0.0.1:8000")

    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/sandbox/mtn" in out
    for product, key in KEYS.items():
        assert re.search(rf"{product}\s+{key}", out)
    assert f"{USER_ID}  API key {API_KEY}" in out


def test_default_credentials_are_shaped_like_mtns() -> None:
    """32 hex characters per product key, a UUID v4 API user (clients check both)."""
    # The settings module itself: the tests' fixtures override only django.conf.settings.
    from gateway import settings as defaults

    keys = dict(entry.split(":") for entry in defaults.MTN_SIMULATOR_SUBSCRIPTION_KEYS)
    assert set(keys) == {"collection", "disbursement", "remittance"}
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in keys.values())
    assert len(set(keys.values())) == 3
    assert uuid.UUID(defaults.MTN["test"]["API_USER"]).version == 4


def test_credentials_command_says_when_the_simulator_is_off(settings, capsys) -> None:
    settings.MTN_SIMULATOR_ENABLED = False

    call_command("mtn_sandbox_credentials")

    out = capsys.readouterr().out
    assert "off" in out
    assert KEYS["collection"] not in out
