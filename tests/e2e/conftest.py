"""Shared set-up for end-to-end tests: the gateway on a live server, the MTN simulator on
loopback, and a real Procrastinate worker driven from the test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests

from payments import services
from tests import live
from tests.payments.factories import fund
from tests.tenants.factories import issue_key


class Gateway:
    """The running gateway as a merchant and as its operator see it."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {secret}"

    def create(self, msisdn: str, flow: str = "collection", **extra) -> dict:
        body = {
            "amount": "150.00",
            "msisdn": msisdn,
            "external_id": f"e2e-{time.time_ns()}",
            "flow": flow,
            **extra,
        }
        response = self.session.post(f"{self.base_url}/api/v1/payments", json=body, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, public_id: str) -> dict:
        return self.session.get(f"{self.base_url}/api/v1/payments/{public_id}", timeout=10).json()

    def refund(self, public_id: str, **body: str) -> requests.Response:
        return self.session.post(
            f"{self.base_url}/api/v1/payments/{public_id}/refund", json=body, timeout=10
        )

    def balance(self) -> tuple[Decimal, Decimal]:
        """The merchant's (available, reserved) ZMW."""
        body = self.session.get(f"{self.base_url}/api/v1/balance", timeout=10).json()
        return Decimal(body["available"][0]["amount"]), Decimal(body["reserved"][0]["amount"])

    def run_jobs(self) -> None:
        """What the worker and its periodic poller do, once."""
        services.poll_due_payments()
        live.run_worker()

    def drive(self, public_id: str, until: Callable[[dict], bool], within: float = 20) -> dict:
        deadline = time.monotonic() + within
        while True:
            self.run_jobs()
            payment = self.get(public_id)
            if until(payment) or time.monotonic() > deadline:
                return payment
            time.sleep(0.2)


def final(payment: dict) -> bool:
    return payment["status"] != "PENDING"


def drive_all(merchant: Gateway, ids: Iterable[str], within: float = 30) -> dict[str, dict]:
    """Run the worker and the poller until every payment is final (or the deadline)."""
    pending = set(ids)
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + within
    while pending and time.monotonic() < deadline:
        merchant.run_jobs()
        for public_id in list(pending):
            seen[public_id] = merchant.get(public_id)
            if final(seen[public_id]):
                pending.discard(public_id)
        time.sleep(0.2)
    return seen


@pytest.fixture
def gateway(live_server, settings) -> Gateway:
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MTN = {
        **settings.MTN,
        "test": {
            **settings.MTN["test"],
            "BASE_URL": f"{live_server.url}/sandbox/mtn",
            "CALLBACK_HOST": urlsplit(live_server.url).hostname,
        },
    }
    settings.MTN_SIMULATOR_CALLBACK_DELAY_SECONDS = 0.5
    settings.MTN_READ_TIMEOUT_PAYMENT = 1.0
    settings.MTN_SIMULATOR_SLOW_SECONDS = 2.0
    settings.MTN_RETRY_INITIAL_SECONDS = 0.05
    settings.MTN_RETRY_MAX_SECONDS = 0.1
    # Long enough that only a callback can settle a payment quickly; tests that rely on the
    # poller shorten it.
    settings.PAYMENT_POLL_SCHEDULE_SECONDS = [60]
    issued = issue_key()
    fund(issued.api_key.tenant)  # payouts and refunds spend the merchant's balance
    return Gateway(live_server.url, issued.secret)


@pytest.fixture
def merchant(gateway, live_server, settings) -> Gateway:
    """The gateway fixture's funded tenant, with Airtel and Zamtel pointed at their
    simulators on the live server, with short delays and timeouts."""
    settings.AIRTEL = {
        **settings.AIRTEL,
        "test": {
            **settings.AIRTEL["test"],
            "BASE_URL": f"{live_server.url}/sandbox/airtel",
            "ENQUIRY_DELAY_SECONDS": "0",
            "NOT_FOUND_MARGIN_SECONDS": "1",
        },
    }
    settings.AIRTEL_SIMULATOR_CALLBACK_URL = f"{live_server.url}/api/v1/webhooks/airtel"
    settings.ZAMTEL = {
        **settings.ZAMTEL,
        "test": {
            **settings.ZAMTEL["test"],
            "BASE_URL": f"{live_server.url}/sandbox/zamtel",
            "NOT_FOUND_MARGIN_SECONDS": "1",
        },
    }
    for operator in ("AIRTEL", "ZAMTEL"):
        setattr(settings, f"{operator}_SIMULATOR_CALLBACK_DELAY_SECONDS", 0.5)
        setattr(settings, f"{operator}_READ_TIMEOUT_PAYMENT", 1.0)
        setattr(settings, f"{operator}_SIMULATOR_SLOW_SECONDS", 2.0)
        setattr(settings, f"{operator}_RETRY_INITIAL_SECONDS", 0.05)
        setattr(settings, f"{operator}_RETRY_MAX_SECONDS", 0.1)
    return gateway
