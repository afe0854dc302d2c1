"""Schemathesis against the live gateway: every check and every phase (examples, coverage,
fuzzing, stateful), a fixed seed, two tenants. Tenant B's objects exist before the run, so
the object-level-authorization check has something to steal; ignored_auth sends each call
without and with broken credentials. Zero failures is the bar: a failure is a server bug or
a schema that says less than the server enforces."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tenants.models import ApiKey

# The e2e fixtures: the live gateway with the three simulators on it, short delays.
from tests.e2e.conftest import gateway, merchant  # noqa: F401
from tests.payments.factories import fund
from tests.tenants.factories import issue_key
from webhooks.outbound import ssrf

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20261201
# Per operation and phase: bounded so the whole run takes a few minutes on two cores.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Operations the run must have answered with a 2xx at least once: the fuzzer created objects
# and read them back (so object-level authorization was probed with real ids).
REACHED = [
    "POST /api/v1/payments",
    "GET /api/v1/payments/{id}",
    "POST /api/v1/webhook-endpoints",
    "GET /api/v1/webhook-endpoints/{id}",
    "GET /api/v1/api-keys/{id}",
]
_ID = re.compile(r"/(pay|we|evt)_[A-Za-z0-9]{24}|/[0-9]+(?=/|$)")


def _answered(records) -> Counter[tuple[str, int]]:
    """(method and path with ids as {id}, status) -> count, from the access log."""
    answered: Counter[tuple[str, int]] = Counter()
    for record in records:
        if record.name == "gateway.access" and record.path.startswith("/api/v1/"):
            answered[(f"{record.method} {_ID.sub('/{id}', record.path)}", record.status)] += 1
    return answered


FUZZ_BALANCE = "500000000000.00"


def test_schemathesis_finds_nothing(merchant, live_server, settings, tmp_path, monkeypatch, caplog):  # noqa: F811
    # Webhook hosts resolve to a public address, as a merchant's would; no test uses real DNS,
    # and the loopback guard (tests/conftest.py) refuses any connection to it.
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["93.184.215.14"])
    # High budgets for the fuzz tenants, through the settings: the limiter itself stays on.
    settings.RATE_LIMIT_READ = settings.RATE_LIMIT_WRITE = "1000000/m"
    caplog.set_level(logging.INFO, logger="gateway.access")
    tenant_a = merchant.session.headers["Authorization"]
    issued_b = issue_key()
    # Balances no run of payouts and batches (1,000 items of up to K100,000) can drain: an
    # exhausted balance would make every later payout a 402 that no schema can foresee.
    for key in ApiKey.objects.select_related("tenant"):
        fund(key.tenant, amount=FUZZ_BALANCE)
    key_ids = [str(key.pk) for key in ApiKey.objects.all()]
    auth = {
        "auth": [
            {"name": "tenant_a", "fixedHeaders": [{"name": "Authorization", "value": tenant_a}]},
            {
                "name": "tenant_b",
                "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {issued_b.secret}"}],
            },
        ]
    }
    (tmp_path / "auth.json").write_text(json.dumps(auth))
    (tmp_path / "schemathesis.toml").write_text(
        f"""
# Text the gateway can store: PostgreSQL holds no NUL and no lone surrogate, so the gateway
# refuses both anywhere in a request, keys of unknown members too (400 invalid_json; the
# schema says so, and tests/gateway/test_hostile_input.py proves the refusals).
[generation]
allow-x00 = false
codec = "utf-8"

[auth.wfc]
path = "{tmp_path / "auth.json"}"
peers = ["tenant_a", "tenant_b"]
"""
    )
    report = Path(django_settings.VAR_DIR) / "artifacts" / "schemathesis"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-dir",
        str(report),
        "--no-color",
    ]
    # Run from a fresh folder: schemathesis keeps a database of earlier failures in its
    # working directory and would replay them, so a run would depend on the ones before.
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.security.fuzz_hooks",
        "PYTHONPATH": str(django_settings.BASE_DIR),
        "FUZZ_PROTECTED_KEY_IDS": ",".join(key_ids),
    }
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=environment,
        cwd=tmp_path,
    )
    (report / "output.txt").parent.mkdir(parents=True, exist_ok=True)
    (report / "output.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    # The run reached past authentication: both tenants' keys still work, and the objects the
    # checks compare across tenants (created, then read back) were answered 2xx.
    for secret in (tenant_a, f"Bearer {issued_b.secret}"):
        assert merchant.session.get(
            f"{live_server.url}/api/v1/balance", headers={"Authorization": secret}, timeout=10
        ).ok
    answered = _answered(caplog.records)
    (report / "statuses.txt").write_text(
        "\n".join(f"{op} {status}: {n}" for (op, status), n in sorted(answered.items()))
    )
    for operation in REACHED:
        assert any(op == operation and s < 300 for op, s in answered), operation
