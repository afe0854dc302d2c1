"""The merchant API of webhooks: endpoints (CRUD, rotate-secret, ping, replay, deliveries)
and events (list with filters, detail with deliveries, resend), all scoped by tenant and mode:
another tenant's or mode's id is 404 on every route."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob
from standardwebhooks.webhooks import Webhook

from audit.models import AuditLog
from payments.models import Flow, IdempotencyKey
from tenants.models import Mode
from tests.payments.factories import PaymentFactory
from tests.problem import assert_problem
from tests.tenants.factories import TenantFactory, issue_key
from tests.webhooks.outbound.factories import (
    endpoint_for,
    fanned_out,
    final_payment_event,
    finalize,
    run_delivery_jobs,
)
from webhooks.outbound import services
from webhooks.outbound.models import Delivery, DeliveryState, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


def _create(api, url: str, **extra) -> dict:
    response = api.post("/api/v1/webhook-endpoints", {"url": url, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_shows_the_secret_once(api, receiver) -> None:
    hook = receiver()

    created = _create(api, hook.url(), enabled_events=["payment.failed", "payment.succeeded"])

    assert created["id"].startswith("we_")
    assert created["object"] == "webhook_endpoint"
    assert created["secret"].startswith("whsec_")
    assert created["enabled_events"] == ["payment.failed", "payment.succeeded"]
    assert created["status"] == "enabled"
    assert created["mode"] == "test"
    shown = api.get(f"/api/v1/webhook-endpoints/{created['id']}").json()
    assert "secret" not in shown
    listed = api.get("/api/v1/webhook-endpoints").json()
    assert [e["id"] for e in listed["data"]] == [created["id"]]
    assert "secret" not in listed["data"][0]
    assert AuditLog.objects.filter(action="webhook_endpoint.created").count() == 1


def test_enabled_events_default_to_everything_and_are_validated(api, receiver) -> None:
    assert _create(api, receiver().url())["enabled_events"] == ["*"]

    response = api.post(
        "/api/v1/webhook-endpoints",
        {"url": receiver().url(), "enabled_events": ["payment.exploded"]},
        format="json",
    )

    assert_problem(response, 400, "validation_error")


def test_update_disable_enable_and_delete(api, receiver) -> None:
    created = _create(api, receiver().url())
    path = f"/api/v1/webhook-endpoints/{created['id']}"

    updated = api.patch(
        path,
        {"description": "orders", "enabled_events": ["refund.failed"], "disabled": True},
        format="json",
    ).json()
    assert (updated["description"], updated["enabled_events"]) == ("orders", ["refund.failed"])
    assert (updated["status"], updated["disabled_reason"]) == (
        "disabled",
        "Disabled by the merchant.",
    )
    again = api.patch(path, {"disabled": False, "url": receiver().url("/v2")}, format="json")
    assert again.json()["status"] == "enabled"
    assert again.json()["disabled_reason"] is None
    assert again.json()["url"].endswith("/v2")
    bad = api.patch(path, {"url": "https://10.0.0.1/"}, format="json")
    assert_problem(bad, 400, "invalid_webhook_url")

    deleted = api.delete(path)

    assert deleted.json() == {"id": created["id"], "object": "webhook_endpoint", "deleted": True}
    assert_problem(api.get(path), 404, "webhook_endpoint_not_found")


def test_rotate_secret_returns_a_new_secret_and_both_sign_for_a_day(api, receiver) -> None:
    hook = receiver()
    created = _create(api, hook.url())

    rotated = api.post(f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret").json()

    assert rotated["secret"] != created["secret"]
    assert rotated["secret_rotation_ends_at"] is not None
    api.post(f"/api/v1/webhook-endpoints/{created['id']}/ping")
    got = hook.requests[-1]
    for secret in (created["secret"], rotated["secret"]):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "ping"


def test_ping_sends_a_signed_ping_and_answers_with_the_result(api, receiver) -> None:
    hook = receiver()
    created = _create(api, hook.url())

    result = api.post(f"/api/v1/webhook-endpoints/{created['id']}/ping")

    assert result.status_code == 200
    body = result.json()
    assert body["object"] == "delivery"
    assert (body["state"], body["last_status"], body["attempts"]) == ("succeeded", 200, 1)
    assert body["event"] == hook.requests[0].headers["webhook-id"]
    ping = Webhook(created["secret"]).verify(hook.requests[0].body, hook.requests[0].headers)
    assert ping["data"] == {"object": "ping", "webhook_endpoint": created["id"]}
    hook.always(500, body=b"nope")
    failed = api.post(f"/api/v1/webhook-endpoints/{created['id']}/ping").json()
    assert (failed["state"], failed["last_status"], failed["response_excerpt"]) == (
        "failed",
        500,
        "nope",
    )
    health = api.get(f"/api/v1/webhook-endpoints/{created['id']}").json()
    assert health["consecutive_failures"] == 1
    assert health["last_success_at"] is not None


def test_ping_takes_no_idempotency_key_so_no_transaction_is_open_during_its_post(
    api, receiver
) -> None:
    hook = receiver()
    created = _create(api, hook.url())
    path = f"/api/v1/webhook-endpoints/{created['id']}/ping"

    # ping_webhook_endpoint refuses to run inside a transaction (ensure_outside_transaction):
    # were the key's transaction open around the POST, this would be a 500.
    first = api.post(path, headers={"Idempotency-Key": "ping-1"})
    second = api.post(path, headers={"Idempotency-Key": "ping-1"})

    assert first.status_code == second.status_code == 200
    assert not second.has_header("Idempotent-Replayed")
    assert len(hook.requests) == 2  # a repeated ping is another ping
    assert not IdempotencyKey.objects.exists()


def test_events_list_with_filters_and_detail_with_deliveries(api, test_key, receiver) -> None:
    tenant = test_key.api_key.tenant
    created = _create(api, receiver().url())
    paid = finalize(PaymentFactory.create(tenant=tenant))
    refund = finalize(
        PaymentFactory.create(
            tenant=tenant, flow=Flow.REFUND, refund_of=PaymentFactory.create(tenant=tenant)
        )
    )
    fanned_out(paid)

    assert paid.payment is not None
    listed = api.get("/api/v1/events").json()
    assert [e["id"] for e in listed["data"]] == [refund.public_id, paid.public_id]
    assert listed["data"][1]["data"]["id"] == paid.payment.public_id
    only = api.get("/api/v1/events", {"type": "refund.succeeded"}).json()["data"]
    assert [e["id"] for e in only] == [refund.public_id]
    by_payment = api.get("/api/v1/events", {"payment": paid.payment.public_id}).json()["data"]
    assert [e["id"] for e in by_payment] == [paid.public_id]
    later = paid.created_at + timedelta(microseconds=1)
    after = api.get("/api/v1/events", {"created_after": later.isoformat()}).json()["data"]
    assert [e["id"] for e in after] == [refund.public_id]
    before = api.get("/api/v1/events", {"created_before": later.isoformat()}).json()["data"]
    assert [e["id"] for e in before] == [paid.public_id]
    assert_problem(api.get("/api/v1/events", {"cursor": "!!!"}), 400, "invalid_cursor")
    assert_problem(api.get("/api/v1/events", {"type": "nope"}), 400, "validation_error")

    detail = api.get(f"/api/v1/events/{paid.public_id}").json()

    assert detail["type"] == "payment.succeeded"
    assert [(d["webhook_endpoint"], d["state"]) for d in detail["deliveries"]] == [
        (created["id"], "pending")
    ]


def test_resend_delivers_again_with_the_same_webhook_id(api, test_key, receiver) -> None:
    hook = receiver()
    created = _create(api, hook.url())
    event = final_payment_event(test_key.api_key.tenant)
    (delivery,) = fanned_out(event)
    services.deliver(delivery_id=delivery.pk)

    answer = api.post(f"/api/v1/events/{event.public_id}/resend", {}, format="json")

    assert answer.status_code == 202
    assert [(d["webhook_endpoint"], d["state"]) for d in answer.json()["data"]] == [
        (created["id"], "pending")
    ]
    services.deliver(delivery_id=delivery.pk)
    assert [r.headers["webhook-id"] for r in hook.requests] == [event.public_id] * 2
    named = api.post(
        f"/api/v1/events/{event.public_id}/resend",
        {"webhook_endpoint": created["id"]},
        format="json",
    )
    assert named.status_code == 202


def test_replay_queues_every_event_of_the_range(api, test_key, receiver, clock) -> None:
    tenant = test_key.api_key.tenant
    old = [final_payment_event(tenant) for _ in range(3)]
    start = clock.advance(seconds=1)
    in_range = [final_payment_event(tenant) for _ in range(2)]
    end = clock.advance(seconds=1)
    final_payment_event(tenant)  # after the range
    hook = receiver()
    created = _create(api, hook.url())  # registered after every event

    answer = api.post(
        f"/api/v1/webhook-endpoints/{created['id']}/replay",
        {"created_after": start.isoformat(), "created_before": end.isoformat()},
        format="json",
    )

    assert answer.status_code == 202
    assert answer.json() == {"object": "replay", "webhook_endpoint": created["id"], "events": 2}
    queued = Delivery.objects.filter(endpoint__public_id=created["id"])
    assert {d.event_id for d in queued} == {e.pk for e in in_range}
    assert services.dispatch_due_deliveries() >= 1  # one job per endpoint slot
    assert run_delivery_jobs() == 2
    assert sorted(r.headers["webhook-id"] for r in hook.requests) == sorted(
        e.public_id for e in in_range
    )
    assert not Delivery.objects.filter(event__in=old).exists()
    bad = api.post(
        f"/api/v1/webhook-endpoints/{created['id']}/replay",
        {"created_after": end.isoformat(), "created_before": start.isoformat()},
        format="json",
    )
    assert_problem(bad, 400, "validation_error")


def test_deliveries_of_an_endpoint_with_a_state_filter(api, test_key, receiver) -> None:
    hook = receiver()
    created = _create(api, hook.url())
    for _ in range(2):
        fanned_out(final_payment_event(test_key.api_key.tenant))
    first = Delivery.objects.order_by("id")[0]
    services.deliver(delivery_id=first.pk)
    path = f"/api/v1/webhook-endpoints/{created['id']}/deliveries"

    everything = api.get(path).json()["data"]
    succeeded = api.get(path, {"state": "succeeded"}).json()["data"]

    assert len(everything) == 2
    assert [d["id"] for d in succeeded] == [first.public_id]


def test_endpoint_limit_per_mode(api, receiver, monkeypatch) -> None:
    monkeypatch.setattr(services, "MAX_ENDPOINTS", 2)
    hook = receiver()
    _create(api, hook.url("/1"))
    _create(api, hook.url("/2"))

    response = api.post("/api/v1/webhook-endpoints", {"url": hook.url("/3")}, format="json")

    assert_problem(response, 409, "webhook_endpoint_limit_reached")


def test_replay_and_named_resend_refuse_a_disabled_endpoint(api, test_key, receiver) -> None:
    created = _create(api, receiver().url())
    event = final_payment_event(test_key.api_key.tenant)
    api.patch(f"/api/v1/webhook-endpoints/{created['id']}", {"disabled": True}, format="json")

    replay = api.post(
        f"/api/v1/webhook-endpoints/{created['id']}/replay",
        {"created_after": "2020-01-01T00:00:00Z", "created_before": "2099-01-01T00:00:00Z"},
        format="json",
    )
    resend = api.post(
        f"/api/v1/events/{event.public_id}/resend",
        {"webhook_endpoint": created["id"]},
        format="json",
    )

    assert_problem(replay, 409, "webhook_endpoint_disabled")
    assert_problem(resend, 409, "webhook_endpoint_disabled")


# --- tenant isolation -----------------------------------------------------------------------


def _foreign_objects(receiver) -> dict[str, str]:
    """Another tenant's endpoint and event, and this tenant's live-mode ones."""
    hook = receiver()
    other = TenantFactory.create()
    endpoint, _ = endpoint_for(other, hook.url())
    event = final_payment_event(other)
    fanned_out(event)
    return {"endpoint": endpoint.public_id, "event": event.public_id}


ROUTES = [
    ("get", "/api/v1/webhook-endpoints/{endpoint}", None),
    ("patch", "/api/v1/webhook-endpoints/{endpoint}", {"description": "mine now"}),
    ("delete", "/api/v1/webhook-endpoints/{endpoint}", None),
    ("post", "/api/v1/webhook-endpoints/{endpoint}/rotate-secret", None),
    ("post", "/api/v1/webhook-endpoints/{endpoint}/ping", None),
    (
        "post",
        "/api/v1/webhook-endpoints/{endpoint}/replay",
        {"created_after": "2020-01-01T00:00:00Z", "created_before": "2099-01-01T00:00:00Z"},
    ),
    ("get", "/api/v1/webhook-endpoints/{endpoint}/deliveries", None),
    ("get", "/api/v1/events/{event}", None),
    ("post", "/api/v1/events/{event}/resend", None),
]


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
@pytest.mark.parametrize("whose", ["another tenant", "the same tenant's live mode"])
def test_another_tenants_or_modes_ids_are_404(
    client_for, receiver, method, route, body, whose
) -> None:
    mine = issue_key(TenantFactory.create())
    if whose == "another tenant":
        owner, mode = TenantFactory.create(), Mode.TEST  # the caller's mode
    else:
        owner, mode = mine.api_key.tenant, Mode.LIVE  # the caller's tenant
    hook = receiver()
    endpoint, _ = endpoint_for(owner, hook.url(), mode=mode)
    event = final_payment_event(owner, mode=mode)
    fanned_out(event)
    before = list(WebhookEndpoint.objects.values_list("description", "secret", "disabled_at"))

    path = route.format(endpoint=endpoint.public_id, event=event.public_id)
    response = getattr(client_for(mine.secret), method)(path, body, format="json")

    code = "event_not_found" if "{event}" in route else "webhook_endpoint_not_found"
    assert_problem(response, 404, code)
    assert list(WebhookEndpoint.objects.values_list("description", "secret", "disabled_at")) == (
        before
    )
    assert hook.requests == []
    untouched = Delivery.objects.get(event=event)
    assert (untouched.state, untouched.attempts) == (DeliveryState.PENDING, 0)
    assert ProcrastinateJob.objects.filter(task_name="webhooks.deliver").count() == 1  # fan-out's


def test_a_resend_naming_another_tenants_endpoint_is_404(api, test_key, receiver) -> None:
    event = final_payment_event(test_key.api_key.tenant)
    foreign = _foreign_objects(receiver)

    response = api.post(
        f"/api/v1/events/{event.public_id}/resend",
        {"webhook_endpoint": foreign["endpoint"]},
        format="json",
    )

    assert_problem(response, 404, "webhook_endpoint_not_found")


def test_lists_show_only_own_tenant_and_mode(api, test_key, receiver) -> None:
    _foreign_objects(receiver)
    final_payment_event(test_key.api_key.tenant, mode=Mode.LIVE)
    endpoint_for(test_key.api_key.tenant, receiver().url(), mode=Mode.LIVE)

    assert api.get("/api/v1/webhook-endpoints").json()["data"] == []
    assert api.get("/api/v1/events").json()["data"] == []
    assert Event.objects.count() == 2


def test_malformed_ids_are_a_plain_404(api) -> None:
    for path in (
        "/api/v1/webhook-endpoints/we_short",
        "/api/v1/events/pay_123456789012345678901234",
    ):
        assert_problem(api.get(path), 404, "not_found")


def test_delivery_state_is_readable_in_the_api_as_in_the_rows(api, test_key, receiver) -> None:
    hook = receiver()
    hook.always(503, {"Retry-After": "120"})
    created = _create(api, hook.url())
    (delivery,) = fanned_out(final_payment_event(test_key.api_key.tenant))
    services.deliver(delivery_id=delivery.pk)

    (shown,) = api.get(f"/api/v1/webhook-endpoints/{created['id']}/deliveries").json()["data"]

    assert (shown["state"], shown["last_status"], shown["attempts"]) == ("failed", 503, 1)
    assert shown["next_attempt_at"] is not None


def test_production_refuses_insecure_webhooks() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG"}},
        "DJANGO_SETTINGS_MODULE": "gateway.settings",
        "DJANGO_ENV": "production",
        "SECRET_KEY": "p" * 64,
        "DATABASE_URL": "postgres://gateway@127.0.0.1:9/gateway",  # never connected to
        "ALLOWED_HOSTS": "pay.example.zm",
        "WEBHOOK_ALLOW_INSECURE": "true",
    }

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "WEBHOOK_ALLOW_INSECURE must be off when DJANGO_ENV=production" in result.stderr
