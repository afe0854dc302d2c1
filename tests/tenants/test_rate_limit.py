"""Per-tenant rate limit: 429 problem+json with Retry-After, shared by every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest

from tests import live
from tests.problem import assert_problem
from tests.tenants.factories import TenantFactory, issue_key

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/api-keys"


@pytest.mark.django_db
def test_rate_limit_answers_429_with_retry_after(settings, client_for) -> None:
    settings.RATE_LIMIT = "3/m"
    client = client_for(issue_key().secret)

    statuses = [client.get(URL).status_code for _ in range(3)]
    refused = client.get(URL)

    assert statuses == [200, 200, 200]
    body = assert_problem(refused, 429, "rate_limited")
    assert body["retryable"] is True
    assert 1 <= int(refused["Retry-After"]) <= 60


@pytest.mark.django_db
def test_rate_limit_is_per_tenant_not_per_key(settings, client_for) -> None:
    settings.RATE_LIMIT = "2/m"
    tenant = TenantFactory.create()
    first, second = client_for(issue_key(tenant).secret), client_for(issue_key(tenant).secret)
    other_tenant = client_for(issue_key().secret)

    assert [first.get(URL).status_code, second.get(URL).status_code] == [200, 200]
    assert second.get(URL).status_code == 429
    assert other_tenant.get(URL).status_code == 200


_CLIENT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    from django.test import Client
    secret, count = sys.argv[1], int(sys.argv[2])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_HOST="127.0.0.1")
    responses = [client.get("/api/v1/api-keys") for _ in range(count)]
    print(json.dumps([response.status_code for response in responses]))
    """
)


def _requests_from_another_process(secret: str, count: int, rate: str) -> list[int]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gateway.settings",
        "DATABASE_URL": live.database_url(),
        "RATE_LIMIT": rate,
    }
    result = subprocess.run(
        [sys.executable, "-c", _CLIENT_SCRIPT, secret, str(count)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), result.stderr
    statuses: list[int] = json.loads(result.stdout.strip().splitlines()[-1])
    assert 500 not in statuses, result.stderr[-3000:]
    return statuses


def _wait_unless_window_has(seconds: int, tenant_id: str, period: int) -> None:
    # django-ratelimit's fixed windows end at a per-key offset; don't start near an edge.
    now = int(time.time())
    window_end = now - (now % period) + (zlib.crc32(f"tenant:{tenant_id}".encode()) % period)
    if window_end < now:
        window_end += period
    if window_end - now < seconds:
        time.sleep(window_end - now + 1)


@pytest.mark.django_db(transaction=True)  # the other processes must see committed keys
def test_rate_limit_holds_across_processes() -> None:
    issued = issue_key()
    _wait_unless_window_has(120, str(issued.api_key.tenant_id), period=3600)

    first = _requests_from_another_process(issued.secret, 4, rate="4/h")
    second = _requests_from_another_process(issued.secret, 2, rate="4/h")

    assert first == [200, 200, 200, 200]
    assert second == [429, 429]
