"""Hostile input on the money path: a 4xx problem, never a 500, and nothing left behind."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import AuditLog
from payments.models import IdempotencyKey, Payment
from tests.payments.factories import PaymentFactory
from tests.problem import assert_problem
from webhooks.models import InboundCallback

pytestmark = pytest.mark.django_db

PAYMENTS = "/api/v1/payments"
GOOD = '"amount": "150.00", "msisdn": "0961234567", "external_id": "order-1042"'


def payment_body(metadata: str) -> bytes:
    """A valid payment request whose `metadata` is the given JSON text, as raw bytes."""
    return f'{{{GOOD}, "metadata": {metadata}}}'.encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def cursor(querystring: str) -> str:
    return base64.b64encode(querystring.encode()).decode()


# Bodies for POST /api/v1/payments that parse as JSON but cannot be accepted: 400 invalid_json.
BAD_BODIES = {
    "json-20000-deep": payment_body(nested(20_000)),
    "json-past-max-depth": payment_body(nested(40)),
    "nul-in-metadata": payment_body(r'{"k": "v\u0000"}'),
    "lone-surrogate-in-metadata": payment_body(r'{"a": "\udfff"}'),
    "nul-in-metadata-key": payment_body(r'{"k\u0000": "v"}'),
    "nan-in-metadata": payment_body('{"a": NaN}'),
    "infinite-number-in-metadata": payment_body('{"a": 1e999}'),
    "nul-in-external-id": b'{"external_id": "a\\u0000"}',
}
# Requests refused for their URL: id -> (method, path, status, code).
BAD_URLS = {
    "cursor-not-a-datetime": ("GET", f"{PAYMENTS}?cursor=cD14", 400, "invalid_cursor"),
    "cursor-not-base64": ("GET", f"{PAYMENTS}?cursor=!!!", 400, "invalid_cursor"),
    "cursor-impossible-date": (
        "GET",
        f"{PAYMENTS}?cursor={cursor('p=2026-13-45 10:00:00+00:00')}",
        400,
        "invalid_cursor",
    ),
    "cursor-naive-date": (
        "GET",
        f"{PAYMENTS}?cursor={cursor('p=2026-01-01 10:00:00')}",
        400,
        "invalid_cursor",
    ),
    "cursor-negative-offset": ("GET", f"{PAYMENTS}?cursor={cursor('o=-1')}", 400, "invalid_cursor"),
    "nul-in-payment-id": ("GET", f"{PAYMENTS}/pay_%00", 400, "malformed_request"),
    "nul-in-refund-path": ("POST", f"{PAYMENTS}/pay_%00/refund", 400, "malformed_request"),
    "malformed-payment-id": ("GET", f"{PAYMENTS}/pay_short", 404, "not_found"),
    "nul-in-query-filter": ("GET", f"{PAYMENTS}?external_id=%00", 400, "malformed_request"),
    "nul-in-query-name": ("GET", f"{PAYMENTS}?a%00=1", 400, "malformed_request"),
    "nul-in-msisdn-path": ("GET", "/api/v1/accounts/096%00", 400, "malformed_request"),
    "letters-in-msisdn-path": ("GET", "/api/v1/accounts/abc", 404, "not_found"),
}
HOSTILE = [
    *(
        pytest.param("POST", PAYMENTS, body, 400, "invalid_json", id=name)
        for name, body in BAD_BODIES.items()
    ),
    *(
        pytest.param(method, path, b"{}" if method == "POST" else b"", status, code, id=name)
        for name, (method, path, status, code) in BAD_URLS.items()
    ),
]


def _rows() -> dict[str, int]:
    return {
        "payments": Payment.objects.count(),
        "idempotency_keys": IdempotencyKey.objects.count(),
        "audit_log": AuditLog.objects.count(),
        "jobs": ProcrastinateJob.objects.count(),
    }


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), HOSTILE)
def test_hostile_input_is_a_4xx_problem_and_leaves_nothing_behind(
    api, method: str, path: str, body: bytes, status: int, code: str
) -> None:
    before = _rows()

    response = api.generic(
        method,
        path,
        data=body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="hostile-1",
    )

    problem = assert_problem(response, status, code)
    assert problem["retryable"] is False
    assert _rows() == before


@pytest.mark.parametrize(
    "body",
    [payment_body('"\x00"'), payment_body('"x"').replace(b'"x"', b'"\xed\xbf\xbf"')],
    ids=["raw-nul-byte", "utf8-encoded-surrogate"],
)
def test_a_body_that_is_not_json_is_an_ordinary_400_stored_like_any_4xx(api, body) -> None:
    """Not JSON at all (a raw NUL is not allowed in a JSON string, a UTF-8-encoded surrogate is
    not UTF-8): the view refuses it, and its answer is stored and replayed as any 4xx is."""
    before = _rows()

    first, again = (
        api.generic(
            "POST",
            PAYMENTS,
            data=body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="not-json",
        ),
        api.generic(
            "POST",
            PAYMENTS,
            data=body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="not-json",
        ),
    )

    assert_problem(first, 400, "malformed_request")
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    assert _rows() == {**before, "idempotency_keys": before["idempotency_keys"] + 1}
    assert IdempotencyKey.objects.get(key="not-json").state == "completed"


def test_the_field_holding_a_nul_is_named(api) -> None:
    response = api.generic(
        "POST",
        PAYMENTS,
        data=payment_body(r'{"cart": ["ok", "v\u0000"]}'),
        content_type="application/json",
    )

    problem = assert_problem(response, 400, "invalid_json")
    assert problem["errors"] == [
        {"field": "metadata.cart.1", "message": "contains NUL (U+0000), which cannot be stored"}
    ]
    assert "metadata.cart.1" in problem["detail"]


def test_a_body_just_within_the_depth_limit_is_accepted(api, settings) -> None:
    settings.MAX_JSON_DEPTH = 4
    body = payment_body('{"a": {"b": {"c": 1}}}')  # the request object, then three levels

    assert (
        api.generic("POST", PAYMENTS, data=body, content_type="application/json").status_code == 201
    )
    too_deep = api.generic(
        "POST",
        PAYMENTS,
        data=payment_body('{"a": {"b": {"c": {}}}}'),
        content_type="application/json",
    )
    assert_problem(too_deep, 400, "invalid_json")


def test_hostile_sign_up_is_a_4xx_problem() -> None:
    response = Client().generic(
        "POST",
        "/api/v1/auth/register",
        data=b'{"name": "Shop\\u0000"}',
        content_type="application/json",
    )

    assert_problem(response, 400, "invalid_json")


def test_a_20000_deep_operator_callback_is_a_4xx_not_a_500() -> None:
    payment = PaymentFactory.create()

    response = Client().generic(
        "POST",
        f"/api/v1/webhooks/mtn/{payment.callback_token}",
        data=b'{"status": "SUCCESSFUL", "x": ' + nested(20_000).encode() + b"}",
        content_type="application/json",
    )

    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert json.loads(response.content)["retryable"] is False
    assert InboundCallback.objects.get().payment == payment  # still logged raw
    payment.refresh_from_db()
    assert payment.status == "PENDING"
    assert not ProcrastinateJob.objects.filter(task_name="payments.refresh_payment").exists()


def test_nul_in_the_callback_token_is_refused_before_the_database() -> None:
    response = Client().post("/api/v1/webhooks/mtn/tok%00", b"{}", content_type="application/json")

    assert_problem(response, 400, "malformed_request")
    assert not InboundCallback.objects.exists()
