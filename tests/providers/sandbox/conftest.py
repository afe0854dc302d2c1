"""Fixtures for the MTN simulator: known credentials, a clock, an MTN client, a callback
receiver on 127.0.0.1 and a real Procrastinate worker."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.test import Client
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from providers.sandbox.models import MtnTransaction
from tests import live

BASE = "/sandbox/mtn"
# One subscription key per product, as MTN issues them (32 hex characters).
SUB_KEY = "c011ec7100000000000000000000000a"
OTHER_SUB_KEY = "d15b000000000000000000000000000b"
REMITTANCE_SUB_KEY = "4e3177a4ce00000000000000000000cc"
KEYS = {"collection": SUB_KEY, "disbursement": OTHER_SUB_KEY, "remittance": REMITTANCE_SUB_KEY}
USER_ID = "0b8b3b8e-5a5e-4d0b-9d6e-2f1f2b7c1a10"
API_KEY = "api-key-for-tests"
CALLBACK_HOST = "127.0.0.1"
TASK = "sandbox.deliver_mtn_callback"


@pytest.fixture(autouse=True)
def simulator_settings(settings):
    settings.MTN_SIMULATOR_SUBSCRIPTION_KEYS = [f"{p}:{key}" for p, key in KEYS.items()]
    settings.MTN_SIMULATOR_STRICT_TOKEN_BODY = False
    settings.MTN_SIMULATOR_CALLBACK_RETRY_SECONDS = []  # one try, unless a test says otherwise
    settings.MTN_SIMULATOR_USERS = [f"{USER_ID}:{API_KEY}"]
    settings.MTN = {
        **settings.MTN,
        "test": {**settings.MTN["test"], "CALLBACK_HOST": CALLBACK_HOST},
    }
    settings.MTN_SIMULATOR_CALLBACK_DELAY_SECONDS = 0
    settings.MTN_SIMULATOR_ONGOING_SECONDS = 30
    settings.MTN_SIMULATOR_SLOW_SECONDS = 0.5
    settings.MTN_SIMULATOR_LATENCY_MS = 0
    settings.MTN_SIMULATOR_FAILURE_RATE = 0.0
    settings.MTN_SIMULATOR_TOKEN_TTL_SECONDS = 3600
    return settings


class Clock:
    """timezone.now() moved forward on demand: the simulator computes statuses from it."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self._real_now = timezone.now

    def now(self):
        return self._real_now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


def basic(user_id: str = USER_ID, api_key: str = API_KEY) -> str:
    return "Basic " + base64.b64encode(f"{user_id}:{api_key}".encode()).decode()


def product_of(path: str) -> str:
    """The product whose path this is: its first segment."""
    return path.strip("/").split("/")[0]


class MtnApi:
    """A minimal MTN client over any `send(method, path, headers, body)`."""

    def __init__(self, send) -> None:
        self.send = send

    def call(self, method: str, path: str, *, headers=None, body=None, json_body=None):
        if json_body is not None:
            body = json.dumps(json_body).encode()
        return self.send(method, path, dict(headers or {}), body)

    def token_response(self, product="collection", *, authorization=None, sub_key="", body=None):
        headers = {"Authorization": authorization or basic()}
        if sub_key is not None:
            headers["Ocp-Apim-Subscription-Key"] = sub_key or KEYS[product]
        return self.call("POST", f"/{product}/token/", headers=headers, body=body)

    def token(self, product="collection", **kwargs) -> str:
        response = self.token_response(product, **kwargs)
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    def headers(
        self, token: str, *, environment="mtnzambia", product="collection", sub_key="", **extra
    ) -> dict:
        headers = {
            "Authorization": f"Bearer {token}",
            "Ocp-Apim-Subscription-Key": sub_key or KEYS[product],
            "X-Target-Environment": environment,
        }
        headers.update(extra)
        return headers

    def money_body(self, party_id: str, *, role="payer", amount="10", currency="ZMW", **extra):
        body = {
            "amount": amount,
            "currency": currency,
            "externalId": "order-1",
            role: {"partyIdType": "MSISDN", "partyId": party_id},
            "payerMessage": "Pay for order 1",
            "payeeNote": "Order 1",
        }
        body.update(extra)
        return body

    def submit(
        self,
        path: str,
        token: str,
        body: dict,
        *,
        reference: str | None = None,
        environment="mtnzambia",
        callback_url: str | None = None,
    ):
        reference = reference or str(uuid.uuid4())
        headers = self.headers(
            token,
            environment=environment,
            product=product_of(path),
            **{"X-Reference-Id": reference},
        )
        if callback_url is not None:
            headers["X-Callback-Url"] = callback_url
        response = self.call("POST", path, headers=headers, json_body=body)
        return reference, response

    def request_to_pay(
        self, token: str, msisdn="260961234567", *, amount="10", currency="ZMW", **kwargs
    ):
        body = self.money_body(msisdn, amount=amount, currency=currency)
        return self.submit("/collection/v1_0/requesttopay", token, body, **kwargs)

    def transfer(self, token: str, msisdn="260961234567", **kwargs):
        return self.submit(
            "/disbursement/v1_0/transfer", token, self.money_body(msisdn, role="payee"), **kwargs
        )

    def get(self, path: str, token: str, *, environment="mtnzambia"):
        headers = self.headers(token, environment=environment, product=product_of(path))
        return self.call("GET", path, headers=headers)

    def rtp_status(self, token: str, reference: str, **kwargs):
        return self.get(f"/collection/v1_0/requesttopay/{reference}", token, **kwargs)


def django_send(client: Client):
    def send(method, path, headers, body):
        return client.generic(
            method,
            BASE + path,
            data=body or b"",
            content_type="application/json",
            headers=headers,
        )

    return send


def requests_send(base_url: str, timeout: float = 30):
    session = requests.Session()

    def send(method, path, headers, body):
        return session.request(
            method, base_url + BASE + path, headers=headers, data=body, timeout=timeout
        )

    return send


@pytest.fixture
def mtn() -> MtnApi:
    return MtnApi(django_send(Client()))


@dataclass
class ReceivedCallback:
    method: str
    path: str
    headers: dict
    body: dict


@dataclass
class CallbackServer:
    url: str
    received: list[ReceivedCallback] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def callback_server():
    """A merchant-like HTTP server on 127.0.0.1 that records every callback and answers 200."""
    records: list[ReceivedCallback] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with lock:
                records.append(
                    ReceivedCallback(
                        method=self.command,
                        path=self.path,
                        headers=dict(self.headers.items()),
                        body=json.loads(raw) if raw else {},
                    )
                )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = _record

        def log_message(self, format, *args):  # http.server's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield CallbackServer(
            url=f"http://127.0.0.1:{server.server_port}", received=records, lock=lock
        )
    finally:
        server.shutdown()
        server.server_close()


def run_worker(concurrency: int = 1) -> None:
    """Run every due job of the sandbox queue with a real worker, then return."""
    live.run_worker(queues=["sandbox"], concurrency=concurrency)


def callback_jobs(reference: str):
    """The callback jobs of one request (the jobs table is not emptied between tests)."""
    ids = list(MtnTransaction.objects.filter(reference_id=reference).values_list("pk", flat=True))
    return ProcrastinateJob.objects.filter(task_name=TASK, args__transaction_id__in=ids)


@pytest.fixture
def no_stale_jobs():
    """Cancel callback jobs left due by earlier transactional tests, so a worker runs ours only."""
    for job in app.job_manager.list_jobs(queue="sandbox", status="todo"):
        assert job.id is not None
        app.job_manager.cancel_job_by_id(job.id)
