"""What schemathesis found (tests/security/test_fuzz.py), one regression test each: server
bugs, and schema constraints that said less than the server enforces."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings, strategies

from gateway import openapi
from payments.idempotency import VALID_KEY
from payments.models import Payment
from providers import routing
from tenants.models import ApiKey
from tests.problem import assert_problem
from tests.tenants.factories import issue_key
from tests.webhooks.outbound.factories import endpoint_for
from webhooks.outbound import ssrf
from webhooks.outbound.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema() -> dict:
    return Client().get("/api/schema/?format=json").json()


def _property(schema: dict, component: str, name: str) -> dict:
    return schema["components"]["schemas"][component]["properties"][name]


# --- server bugs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v1/payments?status=", "/api/v1/events?type=", "/api/v1/balance-transactions?type="],
)
def test_an_empty_filter_is_refused_not_read_as_no_filter(api, path) -> None:
    # DRF reads `?status=` as no parameter, so an empty filter listed every row.
    body = assert_problem(api.get(path), 400, "validation_error")

    assert body["errors"][0]["field"] == path.rsplit("?", 1)[1].rstrip("=")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/auth/register", {"name": 0}, "name"),
        (
            "/api/v1/test/top-ups",
            {"amount": "150.00", "currency": "ZMW", "description": 0},
            "description",
        ),
        (
            "/api/v1/payments",
            {"amount": "150.00", "msisdn": 961234567, "external_id": "n-1"},
            "msisdn",
        ),
        (
            "/api/v1/payments",
            {"amount": "150.00", "msisdn": "0961234567", "external_id": 7},
            "external_id",
        ),
    ],
)
def test_a_number_where_a_string_belongs_is_refused(api, path, body, field) -> None:
    # DRF's CharField reads 0 as "0": a tenant named 0 was created.
    problem = assert_problem(api.post(path, body, format="json"), 400, "validation_error")

    assert [e["field"] for e in problem["errors"]] == [field]
    assert not Payment.objects.exists()


@pytest.mark.parametrize("disabled", ["true", 1, "yes", None])
def test_a_webhook_switch_takes_only_json_booleans(api, test_key, disabled) -> None:
    endpoint, _ = endpoint_for(test_key.api_key.tenant, "https://93.184.215.14/hooks")

    response = api.patch(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}", {"disabled": disabled}, format="json"
    )

    assert_problem(response, 400, "validation_error")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).disabled_at is None


def test_msisdn_and_its_alias_payer_together_are_refused(api) -> None:
    body = {"amount": "150.00", "msisdn": "0961234567", "payer": "0961234567", "external_id": "p-1"}

    problem = assert_problem(
        api.post("/api/v1/payments", body, format="json"), 400, "validation_error"
    )

    assert problem["errors"][0]["field"] == "payer"
    assert not Payment.objects.exists()


def test_payer_alone_still_names_the_wallet(api) -> None:
    body = {"amount": "150.00", "payer": "0961234567", "external_id": "p-2"}

    response = api.post("/api/v1/payments", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["msisdn"] == "260961234567"


def test_a_revoked_key_is_gone_from_the_api(api, test_key) -> None:
    # schemathesis' use_after_free: DELETE answered 200, and a GET then still found the key.
    other = issue_key(test_key.api_key.tenant)
    url = f"/api/v1/api-keys/{other.api_key.pk}"

    assert api.delete(url).json()["revoked_at"] is not None

    assert_problem(api.get(url), 404, "not_found")
    assert_problem(api.delete(url), 404, "not_found")
    assert other.api_key.pk not in [k["id"] for k in api.get("/api/v1/api-keys").json()["data"]]
    assert ApiKey.objects.get(pk=other.api_key.pk).revoked_at is not None  # kept for the audit


# --- the schema says what the server enforces ------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "0961234567",
        "961234567",
        "260961234567",
        "+260961234567",
        "+260 96 123 4567",
        "0971-234-567",
    ],
)
def test_the_msisdn_pattern_takes_the_documented_spellings(schema, spelling) -> None:
    pattern = _property(schema, "PaymentCreateRequest", "msisdn")["pattern"]

    assert re.fullmatch(pattern, spelling)
    assert routing.route_msisdn(routing.normalize_msisdn(spelling))


@pytest.mark.parametrize(
    "text", ["0", "", "0211234567", "+0961234567", "abc", "(096) 123 4567", "0-9-6-1234567"]
)
def test_the_msisdn_pattern_refuses_what_the_gateway_refuses(schema, text) -> None:
    pattern = _property(schema, "PaymentCreateRequest", "msisdn")["pattern"]

    assert not re.fullmatch(pattern, text)
    with pytest.raises(routing.InvalidMsisdn):
        routing.normalize_msisdn(text)


def test_the_msisdn_pattern_leaves_out_operators_without_an_adapter(schema) -> None:
    pattern = _property(schema, "PaymentCreateRequest", "msisdn")["pattern"]

    assert not re.fullmatch(pattern, "0981234567")
    with pytest.raises(routing.UnsupportedOperator):
        routing.route_msisdn(routing.normalize_msisdn("0981234567"))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(strategies.from_regex(routing.SUPPORTED_MSISDN_PATTERN, fullmatch=True))
def test_every_number_the_msisdn_pattern_takes_is_routed(number: str) -> None:
    assert routing.route_msisdn(routing.normalize_msisdn(number))


@pytest.mark.parametrize(
    "text", ["", "-", ".", "-5", "0", "0.00", "00", "1.234", "1e3", "١٥٠", "100000.01", "200000"]
)
def test_the_payment_amount_pattern_refuses_what_the_gateway_refuses(schema, text) -> None:
    pattern = _property(schema, "PaymentCreateRequest", "amount")["pattern"]

    assert not re.fullmatch(pattern, text)


@pytest.mark.parametrize("text", ["0.01", "0.5", "1", "150.00", "99999.99", "100000", "100000.00"])
def test_the_payment_amount_pattern_takes_every_amount_up_to_the_limit(schema, text) -> None:
    pattern = _property(schema, "PaymentCreateRequest", "amount")["pattern"]

    assert re.fullmatch(pattern, text)


def test_the_top_up_amount_pattern_has_the_top_up_limit(schema) -> None:
    pattern = _property(schema, "TopUpCreateRequest", "amount")["pattern"]

    assert re.fullmatch(pattern, "1000000.00") and not re.fullmatch(pattern, "1000000.01")


@pytest.mark.parametrize("maximum", ["5000.00", "100000.00", "250", "7", "1234.00"])
def test_an_amount_pattern_takes_exactly_the_amounts_up_to_its_maximum(maximum) -> None:
    pattern = re.compile(openapi.amount_pattern(Decimal(maximum)))
    top = Decimal(maximum)
    samples = {Decimal("0.01"), top / 3, top - Decimal("0.01"), top, top + Decimal("0.01")}
    samples |= {Decimal(n) for n in range(0, int(top) * 2 + 2, max(1, int(top) // 97))}

    for amount in samples:
        text = f"{amount.quantize(Decimal('0.01'))}"
        assert bool(pattern.fullmatch(text)) == (Decimal("0") < amount <= top), text


def test_the_idempotency_key_is_documented_with_the_servers_own_pattern(schema) -> None:
    operation = schema["paths"]["/api/v1/payments"]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]

    assert header["schema"]["pattern"] == VALID_KEY.pattern
    assert not re.fullmatch(header["schema"]["pattern"], "")
    assert not re.fullmatch(header["schema"]["pattern"], " leading-space")


def test_the_only_currency_is_documented(schema) -> None:
    assert _property(schema, "PaymentCreateRequest", "currency")["enum"] == ["ZMW"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=strategies.from_regex(openapi.webhook_url_pattern(), fullmatch=True))
def test_every_webhook_url_the_pattern_takes_passes_the_policy_before_dns(url: str) -> None:
    ssrf._parse(url)  # raises UrlRefused on anything the policy refuses


@pytest.mark.parametrize(
    "url",
    [
        "https://",
        "http://example.com/",
        "https://10.0.0.1/",
        "https://a.local/",
        "https://localhost/",
        "https://example.com:22/",
        "https://u:p@example.com/",
        "https://example.com/#x",
    ],
)
def test_the_webhook_url_pattern_refuses_what_the_policy_refuses(url) -> None:
    assert not re.fullmatch(openapi.webhook_url_pattern(), url)
    with pytest.raises(ssrf.UrlRefused):
        ssrf.check(url)  # each is refused before any DNS lookup


def test_a_cursor_is_documented_as_base64(schema) -> None:
    (cursor,) = [
        p for p in schema["paths"]["/api/v1/payments"]["get"]["parameters"] if p["name"] == "cursor"
    ]

    assert cursor["schema"]["pattern"] == "^[A-Za-z0-9+/]+={0,2}$"


def test_a_created_payment_links_to_what_can_be_done_with_it(schema) -> None:
    links = schema["paths"]["/api/v1/payments"]["post"]["responses"]["201"]["links"]

    assert set(links) == {"payments_retrieve", "payments_refund", "payments_cancel"}
    assert links["payments_retrieve"]["parameters"] == {"public_id": "$response.body#/id"}
