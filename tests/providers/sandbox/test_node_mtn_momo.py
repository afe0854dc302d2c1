"""The Node client `mtn-momo` (npm, sparkplug/momoapi-node), unmodified, against the simulator
over real HTTP: sandbox provisioning, collection, disbursement. `make test` installs it (from
tests/providers/sandbox/node/package-lock.json) and `.ci/run` installs Node itself; a missing
`node` or package fails this test rather than skipping it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.providers.sandbox.conftest import BASE, OTHER_SUB_KEY, SUB_KEY

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = Path(__file__).with_name("node") / "mtn_momo_client.js"


def test_mtn_momo_node_client_runs_unmodified(live_server) -> None:
    assert (SCRIPT.parent / "node_modules" / "mtn-momo").is_dir(), "run `make test` to install it"
    env = {
        **os.environ,
        "MTN_BASE_URL": live_server.url + BASE,
        "MTN_COLLECTION_KEY": SUB_KEY,
        "MTN_DISBURSEMENT_KEY": OTHER_SUB_KEY,
    }

    done = subprocess.run(
        ["node", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["payment"]["status"] == "SUCCESSFUL"
    assert result["payment"]["payer"] == {"partyIdType": "MSISDN", "partyId": "56733123453"}
    assert result["declined"] == {"name": "ApprovalRejectedError", "reason": "APPROVAL_REJECTED"}
    assert result["active"] == {"result": True}
    assert result["collectionBalance"] == {"availableBalance": "1000050", "currency": "EUR"}
    assert result["transfer"]["status"] == "SUCCESSFUL"
    assert result["disbursementBalance"] == {"availableBalance": "999980", "currency": "EUR"}
    # A collection key on disbursement's paths: refused, as MTN refuses it.
    # (the client keeps API Management's message, having no `code` to map).
    assert result["mixedKey"]["message"].startswith("Access denied due to invalid subscription key")
