"""Endpoints of our ASSUMED Zamtel contract (modelled on pawaPay's v2 API; README, "Zamtel").

Plain Django views, outside the merchant API. Each checks the bearer token first, then the
body; a request refused before anything happened is answered HTTP 200 `status: REJECTED` with
a `failureReason`, a reused id `DUPLICATE_IGNORED`, as pawaPay does.
"""

from __future__ import annotations

import functools
import hmac
import json
import random
import re
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from providers.sandbox import chaos
from providers.sandbox.zamtel import scenarios, services
from providers.sandbox.zamtel.models import ZamtelKind, ZamtelStatus, ZamtelTransaction

View = Callable[..., HttpResponse]
_AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")  # "5.555", ".5" and "5." are refused
_PHONE = re.compile(r"^260(55|75|95)[0-9]{7}$")  # Zamtel's prefixes


class ZamtelError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def _reason(code: str, message: str) -> dict[str, str]:
    return {"failureCode": code, "failureMessage": message}


def endpoint(method: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, **kwargs: str) -> HttpResponse:
            if settings.ZAMTEL_SIMULATOR_LATENCY_MS:
                time.sleep(settings.ZAMTEL_SIMULATOR_LATENCY_MS / 1000)
            try:
                if request.method != method:
                    raise ZamtelError(405, {"failureReason": _reason("METHOD_NOT_ALLOWED", "")})
                rate = settings.ZAMTEL_SIMULATOR_FAILURE_RATE
                if rate and random.random() < rate:  # noqa: S311  # fault injection
                    raise ZamtelError(503, {"failureReason": _reason("SERVICE_UNAVAILABLE", "")})
                return view(request, **kwargs)
            except ZamtelError as error:
                return JsonResponse(error.body, status=error.status)

        return wrapper

    return decorate


def _account(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    known = any(
        hmac.compare_digest(token.encode(), accepted.encode())
        for accepted in settings.ZAMTEL_SIMULATOR_TOKENS
        if accepted
    )
    if scheme.lower() != "bearer" or not token or not known:
        raise ZamtelError(
            401, {"failureReason": _reason("AUTHENTICATION_ERROR", "The token is not valid")}
        )
    return services.account_of(token)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rejected(id_field: str, ident: str, code: str, message: str) -> ZamtelError:
    return ZamtelError(
        200, {id_field: ident, "status": "REJECTED", "failureReason": _reason(code, message)}
    )


def _json(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ZamtelError(
            400, {"failureReason": _reason("INVALID_INPUT", "The body is not JSON")}
        ) from None
    if not isinstance(data, dict):
        raise ZamtelError(400, {"failureReason": _reason("INVALID_INPUT", "Not an object")})
    return data


def _validated_id(data: dict[str, Any], id_field: str) -> str:
    ident = str(data.get(id_field) or "")
    try:
        parsed = uuid.UUID(ident)
    except ValueError:
        raise ZamtelError(
            400, {"failureReason": _reason("INVALID_INPUT", f"{id_field} must be a UUIDv4")}
        ) from None
    if parsed.version != 4 or str(parsed) != ident.lower():
        raise ZamtelError(
            400, {"failureReason": _reason("INVALID_INPUT", f"{id_field} must be a UUIDv4")}
        )
    return str(parsed)


def _money(data: dict[str, Any], id_field: str, ident: str) -> tuple[Decimal, str]:
    amount = data.get("amount")
    if not isinstance(amount, str) or not _AMOUNT.match(amount) or Decimal(amount) <= 0:
        raise _rejected(id_field, ident, "INVALID_AMOUNT", "The amount is not valid")
    if data.get("currency") != "ZMW":
        raise _rejected(id_field, ident, "INVALID_CURRENCY", "Only ZMW is supported")
    return Decimal(amount), "ZMW"


def _callback_url(data: dict[str, Any]) -> str:
    url = str(data.get("callbackUrl") or "")
    return url if url.startswith(("http://", "https://")) else ""


def _accept(
    *, kind: ZamtelKind, id_field: str, ident: str, scenario: scenarios.Scenario, **row: Any
) -> HttpResponse:
    scenario = chaos.disturb(
        scenario,
        operator="zamtel",
        reference=ident,
        answers=scenarios.Answer,
        slow_seconds=settings.ZAMTEL_SIMULATOR_SLOW_SECONDS,
    )
    if scenario.answer is scenarios.Answer.UNAVAILABLE:
        raise ZamtelError(503, {"failureReason": _reason("SERVICE_UNAVAILABLE", "Try later")})
    if scenario.answer is scenarios.Answer.FAIL_FIRST_ATTEMPT and services.is_first_attempt(
        kind=kind, transaction_id=ident
    ):
        raise ZamtelError(500, {"failureReason": _reason("INTERNAL_ERROR", "Try again")})
    try:
        stored = services.submit(kind=kind, transaction_id=ident, scenario=scenario, **row)
    except services.Duplicate:
        return JsonResponse({id_field: ident, "status": "DUPLICATE_IGNORED"})
    if scenario.answer is scenarios.Answer.SLOW:
        time.sleep(settings.ZAMTEL_SIMULATOR_SLOW_SECONDS)
    created = stored.created_at.isoformat().replace("+00:00", "Z")
    return JsonResponse({id_field: ident, "status": "ACCEPTED", "created": created})


def _initiate(request: HttpRequest, kind: ZamtelKind) -> HttpResponse:
    account = _account(request)
    data = _json(request)
    id_field = services.ID_FIELDS[kind]
    party_field = "payer" if kind == ZamtelKind.DEPOSIT else "recipient"
    ident = _validated_id(data, id_field)
    amount, currency = _money(data, id_field, ident)
    party = _obj(data.get(party_field))
    details = _obj(party.get("accountDetails"))
    if party.get("type") != "MMO" or details.get("provider") != "ZAMTEL_ZMB":
        raise _rejected(id_field, ident, "PARAMETER_INVALID", f"{party_field} is not Zamtel's")
    phone = str(details.get("phoneNumber") or "")
    if not _PHONE.match(phone):
        code = "INVALID_PAYER_FORMAT" if kind == ZamtelKind.DEPOSIT else "INVALID_RECIPIENT_FORMAT"
        raise _rejected(id_field, ident, code, "Not a Zamtel number")
    return _accept(
        kind=kind,
        id_field=id_field,
        ident=ident,
        scenario=scenarios.for_msisdn(phone),
        account=account,
        msisdn=phone,
        amount=amount,
        currency=currency,
        client_reference=str(data.get("clientReferenceId") or "")[:64],
        callback_url=_callback_url(data),
    )


@endpoint("POST")
def deposits(request: HttpRequest) -> HttpResponse:
    return _initiate(request, ZamtelKind.DEPOSIT)


@endpoint("POST")
def payouts(request: HttpRequest) -> HttpResponse:
    return _initiate(request, ZamtelKind.PAYOUT)


@endpoint("POST")
def refunds(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    data = _json(request)
    ident = _validated_id(data, "refundId")
    amount, currency = _money(data, "refundId", ident)
    deposit_id = str(data.get("depositId") or "")
    original = ZamtelTransaction.objects.filter(
        kind=ZamtelKind.DEPOSIT, transaction_id=deposit_id, account=account
    ).first()
    if original is None:
        raise _rejected("refundId", ident, "DEPOSIT_NOT_FOUND", "No such deposit")
    if original.status_at(timezone.now()) != ZamtelStatus.COMPLETED:
        raise _rejected("refundId", ident, "DEPOSIT_NOT_COMPLETED", "The deposit is not completed")
    already = ZamtelTransaction.objects.filter(
        kind=ZamtelKind.REFUND, deposit_id=deposit_id, account=account
    ).exclude(transaction_id=ident)
    refunded = sum(
        (row.amount for row in already if row.final_status != ZamtelStatus.FAILED), Decimal(0)
    )
    if refunded + amount > original.amount:
        raise _rejected("refundId", ident, "AMOUNT_EXCEEDS_DEPOSIT", "More than the deposit")
    return _accept(
        kind=ZamtelKind.REFUND,
        id_field="refundId",
        ident=ident,
        scenario=scenarios.for_msisdn(original.msisdn),
        account=account,
        msisdn=original.msisdn,
        amount=amount,
        currency=currency,
        client_reference="",
        callback_url=_callback_url(data),
        deposit_id=deposit_id,
    )


def _enquire(request: HttpRequest, kind: ZamtelKind, transaction_id: str) -> HttpResponse:
    account = _account(request)
    if chaos.disturb_read(slow_seconds=settings.ZAMTEL_SIMULATOR_SLOW_SECONDS):
        raise ZamtelError(503, {"failureReason": _reason("SERVICE_UNAVAILABLE", "Try later")})
    row = ZamtelTransaction.objects.filter(
        kind=kind, transaction_id=transaction_id, account=account
    ).first()
    if row is None:
        return JsonResponse({"status": "NOT_FOUND"})
    status = row.status_at(timezone.now())
    return JsonResponse({"status": "FOUND", "data": services.transaction_data(row, status)})


@endpoint("GET")
def deposit_status(request: HttpRequest, transaction_id: str) -> HttpResponse:
    return _enquire(request, ZamtelKind.DEPOSIT, transaction_id)


@endpoint("GET")
def payout_status(request: HttpRequest, transaction_id: str) -> HttpResponse:
    return _enquire(request, ZamtelKind.PAYOUT, transaction_id)


@endpoint("GET")
def refund_status(request: HttpRequest, transaction_id: str) -> HttpResponse:
    return _enquire(request, ZamtelKind.REFUND, transaction_id)


@endpoint("GET")
def wallet_balances(request: HttpRequest) -> HttpResponse:
    _account(request)
    return JsonResponse(
        {"balances": [{"country": "ZMB", "currency": "ZMW", "balance": "1000000.00"}]}
    )


@endpoint("GET")
def account(request: HttpRequest, msisdn: str) -> HttpResponse:
    _account(request)
    if msisdn == scenarios.UNAVAILABLE:
        raise ZamtelError(503, {"failureReason": _reason("SERVICE_UNAVAILABLE", "Try later")})
    if msisdn in (scenarios.NOT_FOUND, scenarios.PORTED_TO_AIRTEL) or not _PHONE.match(msisdn):
        return JsonResponse({"status": "NOT_FOUND"})
    return JsonResponse(
        {
            "status": "FOUND",
            "data": {"phoneNumber": msisdn, "provider": "ZAMTEL_ZMB", "active": True},
        }
    )


@endpoint("GET")
def not_found(request: HttpRequest) -> HttpResponse:
    raise ZamtelError(404, {"failureReason": _reason("NOT_FOUND", "No such endpoint")})
