"""The simulator's tables are visible, read-only, in the admin; its routes are not in the
merchant API's schema."""

from __future__ import annotations

import pytest
from django.test import Client

from providers.sandbox.models import MtnTransaction

pytestmark = pytest.mark.django_db

MODELS = [
    "mtnapiuser",
    "mtnaccesstoken",
    "mtntransaction",
    "mtncallbackattempt",
    "mtnrejectedattempt",
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
