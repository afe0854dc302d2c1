"""The OpenAPI schema is good enough to generate a client from: openapi-python-client builds
one from the live /api/schema/ (any warning about the schema fails the test), and the
generated code, imported as it is, creates a payment, polls it to SUCCESSFUL and lists
payments against the live gateway and the MTN simulator."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.e2e.conftest import Gateway

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "gateway_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def generated(gateway: Gateway, tmp_path: Path) -> Iterator[ModuleType]:
    """The client generated from the running gateway's schema, importable as gateway_client."""
    schema = gateway.session.get(f"{gateway.base_url}/api/schema/?format=json", timeout=10)
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_text(schema.text)
    # No post-generation hooks: what is tested is the generator's output as it comes.
    (tmp_path / "config.json").write_text(
        json.dumps({"package_name_override": PACKAGE, "post_hooks": []})
    )
    run = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--config",
            str(tmp_path / "config.json"),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0 and "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_a_generated_client_creates_polls_and_lists_payments(gateway, generated) -> None:
    api = importlib.import_module(f"{PACKAGE}.api.payments")
    create, retrieve, list_ = (
        importlib.import_module(f"{api.__name__}.{name}")
        for name in ("payments_create", "payments_retrieve", "payments_list")
    )
    models = importlib.import_module(f"{PACKAGE}.models")
    secret = gateway.session.headers["Authorization"].removeprefix("Bearer ")
    client = generated.AuthenticatedClient(base_url=gateway.base_url, token=secret)

    created = create.sync(
        client=client,
        body=models.PaymentCreateRequest(
            amount="150.00", msisdn="0961234567", external_id="generated-1"
        ),
        idempotency_key="generated-1",
    )

    assert isinstance(created, models.Payment), created
    assert created.status == models.PaymentStatusEnum.PENDING
    assert created.flow == models.PaymentFlowEnum.COLLECTION
    deadline = time.monotonic() + 20
    payment = created
    while payment.status == models.PaymentStatusEnum.PENDING and time.monotonic() < deadline:
        gateway.run_jobs()
        payment = retrieve.sync(created.id, client=client)
        assert isinstance(payment, models.Payment), payment
        time.sleep(0.2)
    assert payment.status == models.PaymentStatusEnum.SUCCESSFUL
    assert payment.provider == models.ProviderEnum.MTN and payment.provider_transaction_id

    page = list_.sync(client=client, limit=10, status=models.PaymentsListStatus.SUCCESSFUL)

    assert isinstance(page, models.PaymentList), page
    assert [listed.id for listed in page.data] == [created.id]
    # An error answer is parsed as its documented problem, not left raw.
    missing = retrieve.sync("pay_" + "0" * 24, client=client)
    assert missing.code == "payment_not_found" and missing.status == 404
