"""Idempotency-Key semantics (Stripe's, and the IETF draft's) against PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from gateway.errors import GatewayError, PermissionDenied, RateLimited
from payments import idempotency
from payments.errors import OperatorUnavailable
from payments.models import IdempotencyKey, IdempotencyState, Payment
from tenants.authentication import ApiCaller
from tenants.models import Mode
from tests.problem import assert_problem
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db

BODY = {"amount": "150.00", "msisdn": "0961234567", "external_id": "order-1042"}


def _in_progress_key(test_key, *, locked_at):
    """A key held by a request for BODY that started at `locked_at` and has not finished."""
    return IdempotencyKey.objects.create(
        tenant=test_key.api_key.tenant,
        mode="test",
        key="key-1",
        method="POST",
        path="/api/v1/payments",
        fingerprint=idempotency.fingerprint(json.dumps(BODY).encode()),
        locked_at=locked_at,
        expires_at=timezone.now() + timedelta(hours=24),
    )


def post(client, body=None, key="key-1", **headers):
    return client.post(
        "/api/v1/payments", body or BODY, format="json", HTTP_IDEMPOTENCY_KEY=key, **headers
    )


def test_retry_replays_the_stored_response_byte_for_byte(api) -> None:
    first = post(api)
    again = post(api)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert again["Content-Type"] == first["Content-Type"]
    assert Payment.objects.count() == 1
    assert ProcrastinateJob.objects.filter(task_name="payments.submit_payment").count() == 1
    record = IdempotencyKey.objects.get()
    assert record.state == IdempotencyState.COMPLETED
    assert record.payment == Payment.objects.get()


def test_same_json_in_another_key_order_is_the_same_request(api) -> None:
    post(api)

    again = api.post(
        "/api/v1/payments",
        '{"external_id": "order-1042", "msisdn": "0961234567", "amount": "150.00"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )

    assert again["Idempotent-Replayed"] == "true"


def test_same_key_with_a_different_body_is_422(api) -> None:
    post(api)

    changed = post(api, {**BODY, "amount": "151.00"})

    assert_problem(changed, 422, "idempotency_key_mismatch")
    assert Payment.objects.count() == 1


def test_same_key_on_another_path_is_422(api) -> None:
    post(api)

    other = api.post("/api/v1/api-keys/rotate", BODY, format="json", HTTP_IDEMPOTENCY_KEY="key-1")

    assert_problem(other, 422, "idempotency_key_mismatch")


def test_key_in_flight_is_409_with_retry_after(api, test_key) -> None:
    _in_progress_key(test_key, locked_at=timezone.now())

    response = post(api)

    assert_problem(response, 409, "idempotency_key_in_use")
    assert 1 <= int(response["Retry-After"]) <= 90
    assert not Payment.objects.exists()


def test_a_stale_lock_is_taken_over_after_the_lease(api, test_key) -> None:
    _in_progress_key(test_key, locked_at=timezone.now() - timedelta(seconds=91))

    response = post(api)

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().state == IdempotencyState.COMPLETED


@pytest.mark.parametrize("bad", ["", " leading-space", "x" * 256, "tab\tinside", "é"])
def test_malformed_key_is_400(api, bad) -> None:
    assert_problem(post(api, key=bad), 400, "invalid_idempotency_key")
    assert not Payment.objects.exists()


def test_keys_are_scoped_by_tenant_and_mode(client_for, test_key) -> None:
    other_tenant = issue_key()
    live = issue_key(test_key.api_key.tenant, Mode.LIVE)

    answers = [post(client_for(k.secret)) for k in (test_key, other_tenant, live)]

    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 3
    assert not any(a.has_header("Idempotent-Replayed") for a in answers)


def test_a_validation_error_is_stored_and_replayed(api) -> None:
    first = post(api, {**BODY, "amount": "0"})
    again = post(api, {**BODY, "amount": "0"})

    assert first.status_code == again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"


def test_a_crash_after_the_payment_is_saved_leaves_nothing_and_frees_the_key(api) -> None:
    with mock.patch("payments.views.payment_body", side_effect=RuntimeError("crash")):
        crashed = post(api)

    assert crashed.status_code == 500
    assert not Payment.objects.exists()  # the payment rolled back with the missing response
    assert not IdempotencyKey.objects.exists()  # and the key is free: no in_progress row
    assert not ProcrastinateJob.objects.filter(task_name="payments.submit_payment").exists()
    retried = post(api)
    assert retried.status_code == 201
    assert Payment.objects.count() == 1
    assert ProcrastinateJob.objects.filter(task_name="payments.submit_payment").count() == 1


def test_requests_without_a_key_are_untouched(api) -> None:
    assert api.post("/api/v1/payments", BODY, format="json").status_code == 201
    assert not IdempotencyKey.objects.exists()


def test_bad_api_key_is_401_even_with_an_idempotency_key(client_for) -> None:
    assert_problem(post(client_for("sk_test_" + "x" * 40)), 401, "invalid_api_key")
    assert not IdempotencyKey.objects.exists()


def test_purge_removes_expired_completed_keys_but_never_one_in_progress(api, test_key) -> None:
    post(api, key="done")
    in_progress = IdempotencyKey.objects.create(
        tenant=test_key.api_key.tenant,
        mode="test",
        key="running",
        method="POST",
        path="/api/v1/payments",
        fingerprint="0" * 64,
        locked_at=timezone.now(),
        expires_at=timezone.now() - timedelta(hours=1),
    )
    IdempotencyKey.objects.filter(key="done").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    post(api, {**BODY, "external_id": "fresh"}, key="fresh")

    purged = idempotency.purge_expired()

    assert purged == 1
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"running", "fresh"}
    assert IdempotencyKey.objects.get(pk=in_progress.pk).state == IdempotencyState.IN_PROGRESS


def test_wrong_method_or_unknown_path_is_405_or_404_and_spends_no_key(api) -> None:
    wrong_method = api.put("/api/v1/payments", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-405")
    unknown = api.post("/api/v1/nothing-here", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-404")

    assert_problem(wrong_method, 405, "method_not_allowed")
    assert_problem(unknown, 404, "not_found")
    assert not IdempotencyKey.objects.exists()


def test_database_outage_while_claiming_is_503_retryable(api, monkeypatch) -> None:
    from django.db import OperationalError

    def refuse(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(idempotency, "claim", refuse)

    body = assert_problem(post(api), 503, "service_unavailable")
    assert body["retryable"] is True


def test_a_key_reused_after_its_ttl_before_the_purge_is_a_new_request(api) -> None:
    first = post(api)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    new_body = {**BODY, "external_id": "order-1043", "amount": "99.00"}

    again = post(api, new_body)

    assert again.status_code == 201, again.content
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    assert Payment.objects.count() == 2
    record = IdempotencyKey.objects.get()
    assert record.state == IdempotencyState.COMPLETED
    assert record.payment == Payment.objects.get(external_id="order-1043")
    assert record.fingerprint == idempotency.fingerprint(json.dumps(new_body).encode())
    assert record.expires_at > timezone.now() + timedelta(hours=23)
    assert post(api, new_body).content == again.content  # and it is replayed from now on


def test_an_expired_key_still_held_by_a_live_request_is_in_use(api, test_key) -> None:
    # A request that took the key over just before its TTL passed is still running.
    _in_progress_key(test_key, locked_at=timezone.now())
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_problem(post(api), 409, "idempotency_key_in_use")


def test_an_expired_key_abandoned_in_progress_is_a_new_request(api, test_key) -> None:
    _in_progress_key(test_key, locked_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(hours=1))

    response = post(api, {**BODY, "external_id": "another-order"})

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().state == IdempotencyState.COMPLETED


def test_a_crash_inside_the_view_leaves_no_key_behind(api, monkeypatch) -> None:
    def crash(**kwargs):
        raise RuntimeError("crash")

    monkeypatch.setattr("payments.views.services.create_payment", crash)

    assert_problem(post(api), 500, "internal_error")
    assert not IdempotencyKey.objects.exists()
    assert not Payment.objects.exists()


def test_a_crash_while_storing_the_response_leaves_no_key_behind(api, monkeypatch) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("crash while storing the response")

    monkeypatch.setattr(idempotency, "_payment_id_in", crash)
    api.raise_request_exception = False

    assert_problem(post(api), 500, "internal_error")
    assert not IdempotencyKey.objects.exists()
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("error", "status"),
    [(OperatorUnavailable, 503), (PermissionDenied, 403), (RateLimited, 429)],
)
def test_an_answer_that_is_not_stored_leaves_no_key_behind(
    api, monkeypatch, error: type[GatewayError], status: int
) -> None:
    def refuse(**kwargs):
        raise error()

    monkeypatch.setattr("payments.views.services.create_payment", refuse)

    assert post(api).status_code == status
    assert not IdempotencyKey.objects.exists()
    monkeypatch.undo()
    assert post(api).status_code == 201  # the retry runs as a new request


def test_a_failed_request_on_a_taken_over_key_leaves_it_free_for_the_next_retry(
    api, test_key, monkeypatch
) -> None:
    stale = _in_progress_key(test_key, locked_at=timezone.now() - timedelta(seconds=91))

    def crash(**kwargs):
        raise RuntimeError("crash")

    monkeypatch.setattr("payments.views.services.create_payment", crash)
    assert_problem(post(api), 500, "internal_error")
    # The takeover rolled back with the request: the key is as it was, and still stale.
    assert IdempotencyKey.objects.get().locked_at == stale.locked_at
    monkeypatch.undo()

    assert post(api).status_code == 201
    assert IdempotencyKey.objects.get().state == IdempotencyState.COMPLETED


def test_a_replay_is_one_indexed_read(api, django_assert_num_queries) -> None:
    post(api)
    post(api)  # the API key's last_used_at is fresh from here on

    with django_assert_num_queries(3):  # the API key, the rate-limit counter, the key
        again = post(api)

    assert again["Idempotent-Replayed"] == "true"


def test_claim_inserts_again_when_the_existing_key_vanishes_before_it_is_read(
    test_key, monkeypatch
) -> None:
    existing = _in_progress_key(test_key, locked_at=timezone.now())
    real_insert = idempotency._insert

    def insert_then_lose_the_race(**fields):
        record = real_insert(**fields)
        if record is None:  # the conflict with `existing`; now its request releases it
            IdempotencyKey.objects.filter(pk=existing.pk).delete()
        return record

    monkeypatch.setattr(idempotency, "_insert", insert_then_lose_the_race)
    caller = ApiCaller(api_key=test_key.api_key)

    claimed = idempotency.claim(
        caller=caller,
        key="key-1",
        method="POST",
        path="/api/v1/payments",
        digest=idempotency.fingerprint(b"{}"),
    )

    assert claimed.record is not None and claimed.record.pk != existing.pk
    assert IdempotencyKey.objects.get().pk == claimed.record.pk


def test_hostile_json_is_refused_before_the_key_is_claimed(api) -> None:
    response = api.generic(
        "POST",
        "/api/v1/payments",
        data=b'{"metadata": {"k": "v\\u0000"}}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )

    assert_problem(response, 400, "invalid_json")
    assert not IdempotencyKey.objects.exists()


def test_purge_removes_abandoned_in_progress_keys_past_their_ttl_but_never_a_live_one(
    test_key,
) -> None:
    now = timezone.now()

    def key(name, *, locked_at, expires_at):
        return IdempotencyKey.objects.create(
            tenant=test_key.api_key.tenant,
            mode="test",
            key=name,
            method="POST",
            path="/api/v1/payments",
            fingerprint="0" * 64,
            locked_at=locked_at,
            expires_at=expires_at,
        )

    key("sigkilled", locked_at=now - timedelta(hours=25), expires_at=now - timedelta(hours=1))
    key("released-by-old-code", locked_at=None, expires_at=now - timedelta(hours=1))
    key("fresh", locked_at=now - timedelta(hours=2), expires_at=now + timedelta(hours=22))
    key("live-past-ttl", locked_at=now, expires_at=now - timedelta(seconds=1))

    purged = idempotency.purge_expired()

    assert purged == 2
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"fresh", "live-past-ttl"}
