"""Airtel Africa Open API endpoints, answering with Airtel's envelope and codes.

Plain Django views, outside the merchant API. Each checks what Airtel's gateway checks first
(the bearer token), then the country and currency headers, then the signature (v2), then
the body, and answers `{"data": …, "status": {code, message, result_code, response_code,
success}}`, HTTP 200 even for most business failures, as Airtel does.
"""

from __future__ import annotations

import functools
import hmac
import json
import random
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from providers.airtel import signing
from providers.sandbox.airtel import scenarios, services
from providers.sandbox.airtel.models import (
    AirtelAccessToken,
    AirtelKind,
    AirtelStatus,
    AirtelTransaction,
)

View = Callable[..., HttpResponse]


class AirtelError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def envelope(
    data: dict[str, Any] | None,
    *,
    response_code: str,
    result_code: str = "ESB000010",
    message: str = "SUCCESS",
    success: bool = True,
) -> dict[str, Any]:
    return {
        "data": data or {},
        "status": {
            "code": "200",
            "message": message,
            "result_code": result_code,
            "response_code": response_code,
            "success": success,
        },
    }


def _fail(response_code: str, message: str, *, result_code: str = "ESB000011") -> AirtelError:
    return AirtelError(
        200,
        envelope(
            None,
            response_code=response_code,
            result_code=result_code,
            message=message,
            success=False,
        ),
    )


def _router(code: str, message: str, status: int = 400) -> AirtelError:
    return AirtelError(status, {"status_code": code, "status_message": message})


def endpoint(method: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, **kwargs: str) -> HttpResponse:
            if settings.AIRTEL_SIMULATOR_LATENCY_MS:
                time.sleep(settings.AIRTEL_SIMULATOR_LATENCY_MS / 1000)
            try:
                if request.method != method:
                    raise _router("ROUTER003", "Method not allowed", 405)
                rate = settings.AIRTEL_SIMULATOR_FAILURE_RATE
                if rate and random.random() < rate:  # noqa: S311  # fault injection
                    raise AirtelError(503, {"error": "Service Unavailable"})
                return view(request, **kwargs)
            except AirtelError as error:
                return JsonResponse(error.body, status=error.status)

        return wrapper

    return decorate


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise _fail("DP00800001000", "Invalid JSON", result_code="ESB000008") from None
    if not isinstance(data, dict):
        raise _fail("DP00800001000", "Invalid request", result_code="ESB000008")
    return data


def _authorize(request: HttpRequest) -> str:
    """The client id of a valid bearer token, with Zambia's country and currency."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    row = (
        AirtelAccessToken.objects.filter(token_hash=services.hash_secret(token.strip())).first()
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    if row is None or row.expires_at <= timezone.now():
        raise AirtelError(
            401, {"error": "invalid_token", "error_description": "Access token is invalid"}
        )
    if request.headers.get("X-Country", "").upper() != "ZM":
        raise _router("ROUTER006", "Invalid country")
    if request.headers.get("X-Currency", "").upper() != "ZMW":
        raise _router("ROUTER112", "Invalid currency")
    return row.client_id


def _verify_signature(request: HttpRequest, *, required: bool, forbidden_code: str) -> bool:
    signature = request.headers.get("x-signature")
    key = request.headers.get("x-key")
    if not signature or not key:
        if required:
            raise _fail(forbidden_code, "Forbidden: the request is not signed")
        return False
    try:
        signed = signing.open_signature(services.private_key(), x_signature=signature, x_key=key)
    except signing.SigningError:
        raise _fail(forbidden_code, "Forbidden: x-signature mismatch") from None
    if not hmac.compare_digest(signed, request.body):
        raise _fail(forbidden_code, "Forbidden: x-signature mismatch")
    return True


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise _fail("DP00800001004", "Invalid amount")
    return amount


def _msisdn(value: Any) -> str:
    text = str(value or "")
    if text.startswith("260"):
        text = text[3:]
    if not text.isdigit() or len(text) != 9:
        raise _fail("DP00800001000", "Invalid MSISDN length", result_code="ESB000033")
    return text


def _drop_in_an_outage() -> None:
    """AIRTEL_SIMULATOR_OUTAGE=drop: a collection or payout POST is lost on its way in,
    before anything looks at it; nothing is recorded, so an enquiry finds nothing."""
    if settings.AIRTEL_SIMULATOR_OUTAGE == "drop":
        raise AirtelError(500, {"error": "Internal Server Error"})


def _accept(
    *,
    kind: AirtelKind,
    client_id: str,
    transaction_id: str,
    msisdn: str,
    amount: Decimal,
    reference: str,
    signed: bool,
    scenario: scenarios.Scenario,
    duplicate_code: str,
    refunded_money_id: str = "",
) -> AirtelTransaction:
    if scenario.answer is scenarios.Answer.UNAVAILABLE:
        raise AirtelError(503, {"error": "Service Unavailable"})
    if scenario.answer is scenarios.Answer.FAIL_FIRST_ATTEMPT and services.is_first_attempt(
        kind=kind, transaction_id=transaction_id
    ):
        raise AirtelError(500, {"error": "Internal Server Error"})
    try:
        row = services.submit(
            kind=kind,
            client_id=client_id,
            transaction_id=transaction_id,
            msisdn=msisdn,
            amount=amount,
            reference=reference,
            signed=signed,
            scenario=scenario,
            refunded_money_id=refunded_money_id,
        )
    except services.Duplicate:
        # Airtel refuses a reused transaction.id (providers.md §2.8): nothing is taken twice.
        raise _fail(duplicate_code, "Duplicate transaction id", result_code="ESB000041") from None
    if kind != AirtelKind.REFUND and settings.AIRTEL_SIMULATOR_OUTAGE == "lose_answer":
        raise AirtelError(500, {"error": "Internal Server Error"})  # taken, the answer lost
    if scenario.answer is scenarios.Answer.SLOW:
        time.sleep(settings.AIRTEL_SIMULATOR_SLOW_SECONDS)
    return row


# --- auth and keys --------------------------------------------------------------------------


@endpoint("POST")
def token(request: HttpRequest) -> HttpResponse:
    data = _json(request)
    client_id, secret = str(data.get("client_id", "")), str(data.get("client_secret", ""))
    known = dict(pair.split(":", 1) for pair in settings.AIRTEL_SIMULATOR_CLIENTS if ":" in pair)
    expected = known.get(client_id)
    if (
        data.get("grant_type") != "client_credentials"
        or expected is None
        or not hmac.compare_digest(expected.encode(), secret.encode())
    ):
        raise AirtelError(
            401, {"error": "invalid_client", "error_description": "Invalid client authentication"}
        )
    value, ttl = services.issue_token(client_id=client_id)
    # Airtel's docs give expires_in as a string.
    return JsonResponse({"access_token": value, "expires_in": str(ttl), "token_type": "bearer"})


@endpoint("GET")
def encryption_keys(request: HttpRequest) -> HttpResponse:
    _authorize(request)
    pair = services.key_pair()
    data = {"key_id": pair.key_id, "key": pair.public_der_b64, "valid_upto": "2099-12-31 23:59:59"}
    return JsonResponse(envelope(data, response_code="DP02010001001"))


# --- collections ------------------------------------------------------------------------------


def _collect(request: HttpRequest, *, version: str) -> HttpResponse:
    _drop_in_an_outage()
    client_id = _authorize(request)
    signed = _verify_signature(request, required=version == "v2", forbidden_code="DP00800001026")
    data = _json(request)
    subscriber = _obj(data.get("subscriber"))
    txn = _obj(data.get("transaction"))
    transaction_id = str(txn.get("id") or "")
    if not transaction_id or len(transaction_id) > 64:
        raise _fail("DP00800001000", "transaction.id is required", result_code="ESB000008")
    msisdn = _msisdn(subscriber.get("msisdn"))
    amount = _amount(txn.get("amount"))
    _accept(
        kind=AirtelKind.COLLECTION,
        client_id=client_id,
        transaction_id=transaction_id,
        msisdn=msisdn,
        amount=amount,
        reference=str(data.get("reference") or "")[:64],
        signed=signed,
        scenario=scenarios.for_msisdn(msisdn),
        duplicate_code="",  # Airtel names a reused collection id by its result code alone
    )
    body = envelope(
        {"transaction": {"id": transaction_id, "status": "SUCCESS"}},
        response_code="DP00800001006",
        message="In process: the prompt was sent",
    )
    return JsonResponse(body)


@endpoint("POST")
def collect_v1(request: HttpRequest) -> HttpResponse:
    return _collect(request, version="v1")


@endpoint("POST")
def collect_v2(request: HttpRequest) -> HttpResponse:
    return _collect(request, version="v2")


def _transaction_body(row: AirtelTransaction) -> HttpResponse:
    status = row.status_at(timezone.now())
    if status == AirtelStatus.TS:
        code = "DP00800001001" if row.kind == AirtelKind.COLLECTION else "DP00900001001"
    elif status == AirtelStatus.TIP:
        code = "DP00800001006" if row.kind == AirtelKind.COLLECTION else "DP00900001006"
    else:
        code = row.response_code
    data = {
        "transaction": {
            "airtel_money_id": row.airtel_money_id if status == AirtelStatus.TS else "",
            "id": row.transaction_id,
            "message": {"TS": "Success", "TIP": "In progress"}.get(status, "Failed"),
            "status": status,
        }
    }
    return JsonResponse(envelope(data, response_code=code))


def _enquire(request: HttpRequest, *, kind: AirtelKind, transaction_id: str) -> HttpResponse:
    client_id = _authorize(request)
    row = AirtelTransaction.objects.filter(
        kind=kind, transaction_id=transaction_id, client_id=client_id
    ).first()
    if row is None:
        code = "DP00800001025" if kind == AirtelKind.COLLECTION else "DP00900001015"
        raise _fail(code, "Transaction not found", result_code="ESB000045")
    return _transaction_body(row)


@endpoint("GET")
def collection_enquiry(request: HttpRequest, transaction_id: str) -> HttpResponse:
    return _enquire(request, kind=AirtelKind.COLLECTION, transaction_id=transaction_id)


@endpoint("POST")
def refund(request: HttpRequest, version: str) -> HttpResponse:
    client_id = _authorize(request)
    signed = _verify_signature(request, required=False, forbidden_code="DP00800001026")
    data = _json(request)
    txn = _obj(data.get("transaction"))
    money_id = str(txn.get("airtel_money_id") or "")
    original = AirtelTransaction.objects.filter(
        kind=AirtelKind.COLLECTION, airtel_money_id=money_id, client_id=client_id
    ).first()
    if original is None or original.status_at(timezone.now()) != AirtelStatus.TS:
        raise _fail("DP00800001025", "Transaction not found or not refundable")
    if AirtelTransaction.objects.filter(
        kind=AirtelKind.REFUND, refunded_money_id=money_id, client_id=client_id
    ).exists():
        raise _fail("DP00800001010", "Transaction already refunded")
    row = _accept(
        kind=AirtelKind.REFUND,
        client_id=client_id,
        transaction_id=f"refund-{money_id}",
        msisdn=original.msisdn,
        amount=original.amount,
        reference="refund",
        signed=signed,
        scenario=scenarios.for_refund(original.msisdn),
        duplicate_code="DP00800001010",
        refunded_money_id=money_id,
    )
    row.outcome_at = row.created_at  # a refund is decided at once
    row.save(update_fields=["outcome_at"])
    data_out = {"transaction": {"airtel_money_id": row.airtel_money_id, "status": "SUCCESS"}}
    return JsonResponse(envelope(data_out, response_code="DP00800001001"))


# --- disbursements -----------------------------------------------------------------------------


def _disburse(request: HttpRequest, *, version: str) -> HttpResponse:
    _drop_in_an_outage()
    client_id = _authorize(request)
    signed = _verify_signature(request, required=False, forbidden_code="DP00900001016")
    data = _json(request)
    payee = _obj(data.get("payee"))
    txn = _obj(data.get("transaction"))
    pin = str(data.get("pin") or "")
    try:
        clear = signing.rsa_decrypt(services.private_key(), pin).decode()
    except (signing.SigningError, UnicodeDecodeError):
        raise _router("ROUTER116", "PIN encryption is not valid") from None
    if not hmac.compare_digest(clear.encode(), settings.AIRTEL_SIMULATOR_PIN.encode()):
        raise _router("ROUTER115", "Incorrect PIN")
    transaction_id = str(txn.get("id") or "")
    if not transaction_id or len(transaction_id) > 64:
        raise _fail("DP00900001000", "transaction.id is required", result_code="ESB000008")
    if version == "v2" and txn.get("type") != "B2C":
        raise _fail("DP00900001000", "transaction.type must be B2C", result_code="ESB000008")
    msisdn = _msisdn(payee.get("msisdn"))
    scenario = scenarios.for_msisdn(msisdn)
    if scenario.name == "not_registered":
        raise _fail(scenario.payout_code, "Invalid mobile number")
    row = _accept(
        kind=AirtelKind.DISBURSEMENT,
        client_id=client_id,
        transaction_id=transaction_id,
        msisdn=msisdn,
        amount=_amount(txn.get("amount")),
        reference=str(data.get("reference") or "")[:64],
        signed=signed,
        scenario=scenario,
        duplicate_code="DP00900001017",
    )
    data_out = {
        "transaction": {
            "reference_id": row.reference,
            "airtel_money_id": "",
            "id": transaction_id,
            "status": "TIP",
        }
    }
    return JsonResponse(envelope(data_out, response_code="DP00900001006", message="Processing"))


@endpoint("POST")
def disburse_v1(request: HttpRequest) -> HttpResponse:
    return _disburse(request, version="v1")


@endpoint("POST")
def disburse_v2(request: HttpRequest) -> HttpResponse:
    return _disburse(request, version="v2")


@endpoint("GET")
def disbursement_enquiry(request: HttpRequest, version: str, transaction_id: str) -> HttpResponse:
    return _enquire(request, kind=AirtelKind.DISBURSEMENT, transaction_id=transaction_id)


# --- KYC and balance ---------------------------------------------------------------------------


@endpoint("GET")
def balance(request: HttpRequest) -> HttpResponse:
    _authorize(request)
    data = {"balance": "1000000.00", "currency": "ZMW", "account_status": "Active"}
    return JsonResponse(envelope(data, response_code="DP02100000001"))


@endpoint("GET")
def user(request: HttpRequest, msisdn: str) -> HttpResponse:
    _authorize(request)
    nsn = msisdn[3:] if msisdn.startswith("260") else msisdn
    full = f"260{nsn}"
    if full == scenarios.UNAVAILABLE:
        raise AirtelError(503, {"error": "Service Unavailable"})
    # Airtel's wallets: its own prefixes, and numbers ported in from another operator.
    ours = nsn[:2] in ("57", "77", "97") or full == scenarios.PORTED_IN
    if full == scenarios.NOT_REGISTERED or not nsn.isdigit() or len(nsn) != 9 or not ours:
        raise _fail("DP02200000002", "User not found")
    ported = full == scenarios.PORTED_IN
    data = {
        "first_name": "Ported" if ported else "Sand",
        "last_name": "In" if ported else "Box",
        "msisdn": nsn,
        "grade": "SUBS",
        "is_barred": False,
        "is_pin_set": True,
        "registration": {"status": "SUBS"},
    }
    return JsonResponse(envelope(data, response_code="DP02200000001"))


@endpoint("GET")
def route_not_found(request: HttpRequest) -> HttpResponse:
    raise _router("ROUTER005", "No route for this request", 404)
