from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.problem import assert_problem
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db

KEY = re.compile(r"sk_(?:test|live)_[A-Za-z0-9]{40}")


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_tenant_prints_keys_that_work(client_for) -> None:
    output = _run("create_tenant", "Mongu Fisheries", "--live")

    secrets = KEY.findall(output)
    assert [s[:8] for s in secrets] == ["sk_test_", "sk_live_"]
    for secret in secrets:
        assert client_for(secret).get("/api/v1/api-keys").status_code == 200


def test_rotate_api_key_prints_a_new_key_and_retires_the_old(client_for) -> None:
    old = issue_key()

    output = _run("rotate_api_key", old.api_key.display, "--grace-hours", "0")

    [new_secret] = KEY.findall(output)
    assert client_for(new_secret).get("/api/v1/api-keys").status_code == 200
    old.api_key.refresh_from_db()
    assert old.api_key.expires_at is not None and old.api_key.expires_at <= timezone.now()
    assert_problem(client_for(old.secret).get("/api/v1/api-keys"), 401, "api_key_expired")


def test_demo_tenant_reuses_its_key_across_runs(settings, tmp_path, client_for) -> None:
    settings.VAR_DIR = tmp_path

    first = KEY.findall(_run("demo_tenant"))
    second = KEY.findall(_run("demo_tenant"))

    assert first and first == second
    assert client_for(first[0]).get("/api/v1/api-keys").status_code == 200
    assert (tmp_path / "demo_api_key").stat().st_mode & 0o077 == 0


def test_demo_tenant_issues_a_new_key_when_the_saved_one_stopped_working(
    settings, tmp_path, client_for
) -> None:
    settings.VAR_DIR = tmp_path
    [first] = set(KEY.findall(_run("demo_tenant")))
    client_for(first).delete(
        f"/api/v1/api-keys/{client_for(first).get('/api/v1/api-keys').json()['data'][0]['id']}"
    )

    [second] = set(KEY.findall(_run("demo_tenant")))

    assert second != first
    assert client_for(second).get("/api/v1/api-keys").status_code == 200


def test_demo_tenant_tops_up_the_test_balance_once(settings, tmp_path, client_for) -> None:
    settings.VAR_DIR = tmp_path
    _run("demo_tenant")
    [secret] = set(KEY.findall(_run("demo_tenant")))

    balance = client_for(secret).get("/api/v1/balance").json()

    assert balance["available"] == [{"currency": "ZMW", "amount": "10000.00"}]
