from __future__ import annotations

import socket
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tenants.models import Mode
from tests.tenants.factories import issue_key
from tests.webhooks.outbound.receiver import Receiver
from webhooks.outbound import ssrf


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # Receivers are on loopback, over http: allowed only with WEBHOOK_ALLOW_INSECURE (the
    # SSRF tests turn it off). Short timeouts keep failing cases fast.
    settings.WEBHOOK_ALLOW_INSECURE = True
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 1.0
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for each in made:
        each.close()


class FakeDns:
    """Names the tests resolve, and what to; never real DNS."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}

    def __call__(self, host: str, port: int) -> list[str]:
        if host in self.names:
            return list(self.names[host])
        try:  # IP literals resolve to themselves, as getaddrinfo does without any lookup
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [host]


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(ssrf, "resolve", fake)
    return fake


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """timezone.now() under the test's control (services, models' auto_now)."""
    fake = FakeClock(timezone.now())
    monkeypatch.setattr(timezone, "now", fake)
    return fake


@pytest.fixture
def merchant(db):
    """A tenant's test-mode key (secret, api_key)."""
    return issue_key(mode=Mode.TEST)
