"""Operator callbacks cannot be used as a weapon: guesses are not stored, stored bodies are
capped, safe for PostgreSQL and expire, and a flood for one payment costs one status check."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob
from prometheus_client import REGISTRY

from payments import services as payments
from payments.models import Payment
from tests import live
from tests.payments.factories import PaymentFactory
from tests.problem import assert_problem
from webhooks import jobs, selectors, services
from webhooks.models import CallbackOutcome, InboundCallback

REFRESH = "payments.refresh_payment"
CLAIM = {"externalId": "order-1", "amount": "150", "currency": "ZMW", "status": "SUCCESSFUL"}


def _url(token: str) -> str:
    return f"/api/v1/webhooks/mtn/{token}"


def _post(token: str, body: bytes | dict, headers: dict[str, str] | None = None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Client().post(_url(token), data, content_type="application/json", headers=headers)


def _rejected(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "gateway_callbacks_rejected_total", {"provider": "mtn", "reason": reason}
    )
    return value or 0.0


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def refreshes(monkeypatch) -> list[int]:
    """The payments asked to be refreshed, in order (the real call defers a job)."""
    asked: list[int] = []
    real = payments.request_refresh

    def recording(*, payment: Payment) -> bool:
        asked.append(payment.pk)
        return real(payment=payment)

    monkeypatch.setattr(payments, "request_refresh", recording)
    return asked


# --- unknown tokens -------------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_tokens_store_nothing_and_leave_the_health_signal_alone(refreshes) -> None:
    payment = PaymentFactory.create()
    assert _post(payment.callback_token, CLAIM).status_code == 200
    health = selectors.last_callback_at(provider="mtn")
    assert health is not None
    stored, before = InboundCallback.objects.count(), _rejected("unknown_token")
    body = b'{"status":"SUCCESSFUL","pad":"' + b"x" * (60 * 1024 - 40) + b'"}'

    answers = [_post(secrets.token_urlsafe(24), body) for _ in range(300)]

    assert len(body) > 60_000
    assert {a.status_code for a in answers} == {404}
    assert_problem(answers[0], 404, "unknown_callback_token")
    assert InboundCallback.objects.count() == stored
    assert selectors.last_callback_at(provider="mtn") == health
    assert _rejected("unknown_token") - before == 300
    assert refreshes == [payment.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    ["%00", "tok%00en", "%ED%A0%80", "%FF", "a" * 300, "..%2F..%2Fadmin", "%20", "t%C3%A9"],
)
def test_hostile_tokens_are_4xx_without_storing(token) -> None:
    PaymentFactory.create()

    answer = _post(token, CLAIM)

    # NUL anywhere in a path is refused before routing (400); a decoded slash leaves the
    # callback route (Django's own 404); anything else is an unknown token. All problem+json.
    expected = (400, "malformed_request") if "%00" in token else (404, None)
    code = json.loads(answer.content)["code"]
    assert answer.status_code == expected[0]
    assert code == expected[1] or code in {"unknown_callback_token", "not_found"}
    assert not InboundCallback.objects.exists()


# --- what is stored for a known payment ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"status":"SUCCESSFUL","note":"a\x00b"}', id="raw-nul"),
        pytest.param(b'{"status":"SUCCESSFUL","note":"a\\u0000b"}', id="escaped-nul"),
        pytest.param(b'{"status":"SUCCESSFUL","note":"\\ud800"}', id="escaped-lone-surrogate"),
        pytest.param(b'{"status":"\\udfff"}', id="lone-surrogate-status"),
        pytest.param(b'{"status":"SUCCESSFUL","note":"\xed\xa0\x80"}', id="utf8-surrogate"),
        pytest.param(b'{"status":"SUCCESSFUL","note":"\xff\xfe\xc0\x80"}', id="invalid-utf8"),
        pytest.param(b"\x00" * 100, id="all-nul"),
        pytest.param(b'{"status":"SUCCESSFUL"' + b"\x00" * 50 + b"}", id="nul-outside-strings"),
        pytest.param(b"[" * 8000 + b"]" * 8000, id="8000-deep-array"),
        pytest.param(b'{"status":' + b'{"a":' * 2500 + b"1" + b"}" * 2501, id="2500-deep-object"),
        pytest.param(b"[" * 20_000 + b"]" * 20_000, id="20000-deep-over-the-cap"),
        pytest.param(b"", id="empty"),
        pytest.param(b"null", id="json-null"),
    ],
)
def test_hostile_bodies_are_never_a_500_and_what_is_stored_is_readable(body) -> None:
    payment = PaymentFactory.create()

    answer = _post(payment.callback_token, body, headers={"User-Agent": "evil\x00agent"})

    assert answer.status_code == 200 or 400 <= answer.status_code < 500, answer.content
    stored = InboundCallback.objects.get(payment=payment)
    assert isinstance(stored.body, str) and "\x00" not in stored.body
    stored.body.encode("utf-8")  # no lone surrogate survived
    assert stored.body_sha256 == hashlib.sha256(body).hexdigest()
    assert stored.body_size == len(body)
    assert stored.headers["User-Agent"] == "evil\\x00agent"
    assert stored.outcome != CallbackOutcome.RECEIVED  # the service reached a conclusion


@pytest.mark.django_db
def test_20000_deep_nesting_inside_the_cap_reaches_the_parser_and_is_a_4xx(settings) -> None:
    # Observed: MtnAdapter.parse_callback raises RecursionError from json.loads past ~1000
    # levels; the service answers 400 malformed_callback. Once parse_callback raises
    # PermanentError itself the answer stays a 400.
    settings.CALLBACK_MAX_BODY_BYTES = 64 * 1024
    payment = PaymentFactory.create()
    body = b'{"status":"SUCCESSFUL","x":' + b"[" * 20_000 + b"]" * 20_000 + b"}"

    answer = _post(payment.callback_token, body)

    assert 400 <= answer.status_code < 500
    assert InboundCallback.objects.get(payment=payment).outcome == CallbackOutcome.MALFORMED


@pytest.mark.django_db
def test_nul_is_stored_escaped_and_invalid_utf8_as_hex() -> None:
    payment = PaymentFactory.create()

    _post(payment.callback_token, b'{"status":"SUCCESSFUL","n":"\x00\xff"}')

    assert InboundCallback.objects.get().body == '{"status":"SUCCESSFUL","n":"\\x00\\xff"}'


@pytest.mark.django_db
def test_body_over_the_cap_is_413_and_stored_truncated(settings, refreshes) -> None:
    settings.CALLBACK_MAX_BODY_BYTES = 1000
    payment = PaymentFactory.create()
    body = json.dumps({**CLAIM, "pad": "é" * 1000}).encode()
    before = _rejected("too_large")

    answer = _post(payment.callback_token, body)

    assert_problem(answer, 413, "request_too_large")
    stored = InboundCallback.objects.get(payment=payment)
    assert stored.outcome == CallbackOutcome.TOO_LARGE
    assert stored.body.encode().startswith(body[:900])
    assert len(stored.body.encode()) <= 1000 + 3  # a split character is kept as \xNN
    assert (stored.body_size, stored.body_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert _rejected("too_large") - before == 1
    assert refreshes == []


@pytest.mark.django_db
def test_body_at_the_cap_is_accepted(settings) -> None:
    settings.CALLBACK_MAX_BODY_BYTES = 100
    payment = PaymentFactory.create()
    body = json.dumps(CLAIM).encode()
    body += b" " * (100 - len(body))

    assert _post(payment.callback_token, body).status_code == 200


@pytest.mark.django_db
def test_at_most_the_quota_is_stored_per_payment_and_the_rest_answered_200(
    settings, refreshes
) -> None:
    settings.CALLBACK_MAX_STORED_PER_PAYMENT = 3
    payment, other = PaymentFactory.create(), PaymentFactory.create()
    before = _rejected("quota_full")

    answers = [_post(payment.callback_token, CLAIM) for _ in range(5)]

    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["outcome"] for a in answers] == [
        "refresh_requested",
        "throttled",
        "throttled",
        "not_stored",
        "not_stored",
    ]
    assert InboundCallback.objects.filter(payment=payment).count() == 3
    assert _rejected("quota_full") - before == 2
    assert refreshes == [payment.pk]
    # Another payment has its own quota.
    assert _post(other.callback_token, CLAIM).json()["outcome"] == "refresh_requested"


# --- throttling ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_burst_requests_one_refresh_and_later_ones_are_throttled(refreshes) -> None:
    payment = PaymentFactory.create()
    before = _rejected("throttled")

    outcomes = [_post(payment.callback_token, CLAIM).json()["outcome"] for _ in range(5)]

    assert outcomes == ["refresh_requested"] + ["throttled"] * 4
    assert refreshes == [payment.pk]
    assert ProcrastinateJob.objects.filter(task_name=REFRESH).count() == 1
    assert _rejected("throttled") - before == 4
    stored = list(InboundCallback.objects.filter(payment=payment).values_list("outcome", flat=True))
    assert sorted(stored) == ["refresh_requested"] + ["throttled"] * 4


# Transactional: the second refresh meets the first's queued job (AlreadyEnqueued, which a
# surrounding test transaction would not survive). The fixture, not the mark, so that the
# suite's clean-up empties Procrastinate's tables afterwards.
def test_after_the_interval_a_callback_requests_a_refresh_again(
    transactional_db, settings, refreshes
) -> None:
    # The database cache keeps whole seconds: an interval of N s lasts between N-1 and N s.
    settings.CALLBACK_REFRESH_INTERVAL_SECONDS = 2
    payment = PaymentFactory.create()
    first = _post(payment.callback_token, CLAIM)
    second = _post(payment.callback_token, CLAIM)

    time.sleep(2.1)
    third = _post(payment.callback_token, CLAIM)

    assert [a.json()["outcome"] for a in (first, second, third)] == [
        "refresh_requested",
        "throttled",
        "refresh_requested",
    ]
    assert refreshes == [payment.pk, payment.pk]


@pytest.mark.django_db
def test_final_payment_callback_is_already_final_and_triggers_nothing(refreshes) -> None:
    payment = PaymentFactory.create(status="SUCCESSFUL", completed_at=timezone.now())

    answer = _post(payment.callback_token, CLAIM)

    assert answer.json() == {"status": "received", "outcome": "already_final"}
    assert refreshes == []
    assert not ProcrastinateJob.objects.filter(task_name=REFRESH).exists()


@pytest.mark.django_db
def test_malformed_callback_is_stored_and_400(refreshes) -> None:
    payment = PaymentFactory.create()
    before = _rejected("malformed")

    assert_problem(_post(payment.callback_token, b"not json"), 400, "malformed_callback")
    assert InboundCallback.objects.get().outcome == CallbackOutcome.MALFORMED
    assert _rejected("malformed") - before == 1
    assert refreshes == []


# --- signatures and the health signal --------------------------------------------------------


@pytest.mark.django_db
def test_bad_signature_for_a_known_token_is_stored_and_401(settings, refreshes) -> None:
    settings.MTN_WEBHOOK_SECRET = "s3cret"
    payment = PaymentFactory.create()
    before = _rejected("bad_signature")

    unsigned = _post(payment.callback_token, CLAIM)
    non_ascii = _post(payment.callback_token, CLAIM, headers={"X-Signature-256": "sha256=é"})
    body = json.dumps(CLAIM).encode()
    signed = _post(payment.callback_token, body, headers={"X-Signature-256": _sign("s3cret", body)})

    assert_problem(unsigned, 401, "bad_signature")
    assert_problem(non_ascii, 401, "bad_signature")
    assert signed.json()["outcome"] == "refresh_requested"
    rows = InboundCallback.objects.filter(payment=payment).order_by("id")
    assert [(r.outcome, r.signature_valid) for r in rows] == [
        ("bad_signature", False),
        ("bad_signature", False),
        ("refresh_requested", True),
    ]
    assert _rejected("bad_signature") - before == 2
    assert refreshes == [payment.pk]


@pytest.mark.django_db
def test_health_ignores_unknown_tokens_and_bad_signatures(settings) -> None:
    settings.MTN_WEBHOOK_SECRET = "s3cret"
    payment = PaymentFactory.create()
    # A row from before this change, for a token that matched nothing.
    InboundCallback.objects.create(provider="mtn", token="nope", outcome="unknown_token")

    _post("nope-nope-nope", CLAIM)
    _post(payment.callback_token, CLAIM, headers={"X-Signature-256": "sha256=00"})
    assert selectors.last_callback_at(provider="mtn") is None

    body = json.dumps(CLAIM).encode()
    _post(payment.callback_token, body, headers={"X-Signature-256": _sign("s3cret", body)})
    signed = InboundCallback.objects.get(signature_valid=True)
    assert selectors.last_callback_at(provider="mtn") == signed.received_at

    response = Client().get("/api/v1/webhooks/mtn/health")
    assert response.json()["last_callback_at"] == signed.received_at.isoformat()


@pytest.mark.django_db
def test_health_without_a_secret_counts_any_callback_that_matched_a_payment() -> None:
    payment = PaymentFactory.create()
    InboundCallback.objects.create(provider="mtn", token="nope", outcome="unknown_token")
    assert selectors.last_callback_at(provider="mtn") is None

    _post(payment.callback_token, CLAIM)

    assert (
        selectors.last_callback_at(provider="mtn")
        == InboundCallback.objects.get(payment=payment).received_at
    )


@pytest.mark.django_db
def test_rejection_counters_are_served_on_metrics() -> None:
    _post("no-such-token", CLAIM)

    page = Client().get("/metrics").content.decode()

    assert 'gateway_callbacks_rejected_total{provider="mtn",reason="unknown_token"}' in page
    assert 'gateway_callbacks_rejected_total{provider="mtn",reason="quota_full"}' in page


# --- retention -------------------------------------------------------------------------------


def _aged(payment: Payment, days: float) -> InboundCallback:
    callback = InboundCallback.objects.create(
        provider="mtn", token=payment.callback_token, method="POST", payment=payment
    )
    InboundCallback.objects.filter(pk=callback.pk).update(
        received_at=timezone.now() - timedelta(days=days)
    )
    return callback


@pytest.mark.django_db
def test_purge_deletes_old_callbacks_and_keeps_recent_ones(settings) -> None:
    settings.CALLBACK_RETENTION_DAYS = 90
    payment = PaymentFactory.create()
    old = [_aged(payment, 91) for _ in range(5)]
    recent = [_aged(payment, 89), _aged(payment, 0)]

    assert services.purge_old_callbacks(batch_size=2) == 5

    left = set(InboundCallback.objects.values_list("pk", flat=True))
    assert left == {c.pk for c in recent}
    assert not left & {c.pk for c in old}


def test_purge_job_is_periodic_on_the_maintenance_queue_and_runs(
    transactional_db, settings
) -> None:
    settings.CALLBACK_RETENTION_DAYS = 1
    payment = PaymentFactory.create()
    old, recent = _aged(payment, 2), _aged(payment, 0.5)
    periodic = {
        task.task.name: task.task.queue for task in app.periodic_registry.periodic_tasks.values()
    }
    assert periodic["webhooks.purge_old_callbacks"] == "maintenance"

    job_id = jobs.purge_old_callbacks.defer(timestamp=0)  # type: ignore[call-arg]  # periodic
    live.run_worker(queues=["maintenance"])

    assert ProcrastinateJob.objects.get(id=job_id).status == "succeeded"
    assert list(InboundCallback.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not InboundCallback.objects.filter(pk=old.pk).exists()


# --- a flood against the live server ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_flood_for_one_pending_payment_costs_one_status_check(
    gateway, settings
) -> None:
    # Long enough that a slow machine finishes the flood inside one interval.
    settings.CALLBACK_REFRESH_INTERVAL_SECONDS = 60
    created = gateway.create("260960000004")  # the operator keeps it PENDING
    gateway.run_jobs()  # submitted; the poller's next check is a minute away
    payment = Payment.objects.get(public_id=created["id"])
    url = f"{gateway.base_url}{_url(payment.callback_token)}"
    before = {r: _rejected(r) for r in ("throttled", "quota_full")}

    def post(_: int) -> tuple[int, str]:
        answer = requests.post(url, json=CLAIM, timeout=10)
        return answer.status_code, answer.json()["outcome"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        first = list(pool.map(post, range(10)))
    gateway.run_jobs()  # the one refresh runs: its job is no longer queued
    with ThreadPoolExecutor(max_workers=8) as pool:
        second = list(pool.map(post, range(60)))
    third = [post(i) for i in range(30)]
    gateway.run_jobs()

    answers = first + second + third
    assert len(answers) == 100
    assert {status for status, _ in answers} == {200}
    outcomes = [outcome for _, outcome in answers]
    assert outcomes.count("refresh_requested") == 1
    assert outcomes.count("throttled") == 19
    assert outcomes.count("not_stored") == 80
    assert InboundCallback.objects.filter(payment=payment).count() == 20
    assert (
        ProcrastinateJob.objects.filter(task_name=REFRESH, args__payment_id=payment.pk).count() == 1
    )
    assert payment.provider_calls.filter(operation="fetch_status").count() == 1
    assert gateway.get(created["id"])["status"] == "PENDING"
    assert _rejected("throttled") - before["throttled"] == 19
    assert _rejected("quota_full") - before["quota_full"] == 80
