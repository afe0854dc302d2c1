"""MTN MoMo Open API endpoints, answering with MTN's own bodies and status codes.

Plain Django views (not DRF): they are not part of the merchant API, so they stay out of the
OpenAPI schema and away from the gateway's authentication and problem+json errors.
Each view checks what API Management checks first (subscription key, token), then MTN's
headers, then the body; then calls a service or selector and renders MTN's answer.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from providers.sandbox.models import MtnKind, MtnProduct
from providers.sandbox.mtn import bodies, errors, parsing, scenarios, selectors, services

View = Callable[..., HttpResponse]


def endpoint(method: str) -> Callable[[View], View]:
    """One HTTP method per route; MTN's error bodies; the global fault injection."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, **kwargs: str) -> HttpResponse:
            if settings.MTN_SIMULATOR_LATENCY_MS:
                time.sleep(settings.MTN_SIMULATOR_LATENCY_MS / 1000)
            try:
                if request.method != method:
                    raise errors.RouteNotFound()  # API Management knows operations, not paths
                rate = settings.MTN_SIMULATOR_FAILURE_RATE
                if rate and random.random() < rate:  # noqa: S311  # fault injection, not crypto
                    raise errors.ServiceUnavailable()
                return view(request, **kwargs)
            except errors.MtnError as error:
                return JsonResponse(error.body(), status=error.status)

        return wrapper

    return decorate


@dataclass(frozen=True)
class Caller:
    user: selectors.ApiUser
    product: MtnProduct
    environment: str


def _check_subscription_key(request: HttpRequest) -> None:
    key = request.headers.get("Ocp-Apim-Subscription-Key") or request.GET.get("subscription-key")
    if not key:
        raise errors.MissingSubscriptionKey()
    known = settings.MTN_SIMULATOR_SUBSCRIPTION_KEYS
    if not any(hmac.compare_digest(key.encode(), candidate.encode()) for candidate in known):
        raise errors.InvalidSubscriptionKey()


def _authorize(request: HttpRequest, product: str) -> Caller:
    """Subscription key, a bearer token of this product, a target environment it may use."""
    _check_subscription_key(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.InvalidAccessToken()
    user = selectors.authenticate_token(token=token.strip(), product=MtnProduct(product))
    environment = request.headers.get("X-Target-Environment")
    if not environment:
        raise errors.ValidationError("X-Target-Environment header is required.")
    if environment not in user.target_environments:
        raise errors.NotAllowedTargetEnvironment()
    return Caller(user=user, product=MtnProduct(product), environment=environment)


def _reference_id(request: HttpRequest) -> uuid.UUID:
    return parsing.parse_uuid4(request.headers.get("X-Reference-Id"), name="X-Reference-Id")


def _empty(status: int) -> HttpResponse:
    return HttpResponse(status=status)


# --- Sandbox provisioning (subscription key only) ------------------------------------------


@endpoint("POST")
def create_api_user(request: HttpRequest) -> HttpResponse:
    _check_subscription_key(request)
    user_id = _reference_id(request)
    data = parsing.parse_json_object(request.body)
    host = data.get("providerCallbackHost")
    if not isinstance(host, str) or not host.strip() or len(host) > 255:
        raise errors.ValidationError("providerCallbackHost is required.")
    services.create_api_user(user_id=user_id, provider_callback_host=host.strip())
    return _empty(201)


@endpoint("POST")
def create_api_key(request: HttpRequest, user_id: str) -> HttpResponse:
    _check_subscription_key(request)
    return JsonResponse({"apiKey": services.create_api_key(user_id=user_id)}, status=201)


@endpoint("GET")
def api_user(request: HttpRequest, user_id: str) -> HttpResponse:
    _check_subscription_key(request)
    user = selectors.get_provisioned_user(user_id=user_id)
    return JsonResponse(
        {"providerCallbackHost": user.provider_callback_host, "targetEnvironment": "sandbox"}
    )


# --- Token ---------------------------------------------------------------------------------


def _basic_credentials(request: HttpRequest) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise errors.LoginFailed()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise errors.LoginFailed() from None
    user_id, separator, api_key = decoded.partition(":")
    if not separator:
        raise errors.LoginFailed()
    return user_id, api_key


@endpoint("POST")
def create_access_token(request: HttpRequest, product: str) -> HttpResponse:
    _check_subscription_key(request)
    if request.body:
        raise errors.ValidationError("The token request must not have a body.")
    user_id, api_key = _basic_credentials(request)
    user = selectors.authenticate_api_key(user_id=user_id, api_key=api_key)
    issued = services.issue_access_token(user=user, product=MtnProduct(product))
    return JsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "access_token",
            "expires_in": issued.expires_in,
        }
    )


# --- Money-moving requests and their status ------------------------------------------------


def _submit(request: HttpRequest, *, product: str, kind: MtnKind, role: str | None) -> HttpResponse:
    caller = _authorize(request, product)
    reference_id = _reference_id(request)
    data = parsing.parse_json_object(request.body)
    money = parsing.parse_money_request(data, role=role, environment=caller.environment)
    callback_url = parsing.parse_callback_url(
        request.headers.get("X-Callback-Url"), registered_host=caller.user.callback_host
    )
    _, scenario = services.submit_transaction(
        user=caller.user,
        environment=caller.environment,
        kind=kind,
        reference_id=reference_id,
        request=money,
        callback_url=callback_url,
    )
    if scenario.answer is scenarios.Answer.SLOW:
        # Stored and committed: the caller times out on a request MTN has in fact accepted.
        time.sleep(settings.MTN_SIMULATOR_SLOW_SECONDS)
    return _empty(202)


def _status(
    request: HttpRequest, *, product: str, kind: MtnKind, reference_id: str
) -> HttpResponse:
    caller = _authorize(request, product)
    row = selectors.get_transaction(kind=kind, reference_id=reference_id, user=caller.user)
    return JsonResponse(bodies.status_body(row, status=row.status_at(timezone.now())))


@endpoint("POST")
def request_to_pay(request: HttpRequest) -> HttpResponse:
    return _submit(request, product="collection", kind=MtnKind.REQUEST_TO_PAY, role="payer")


@endpoint("GET")
def request_to_pay_status(request: HttpRequest, reference_id: str) -> HttpResponse:
    return _status(
        request, product="collection", kind=MtnKind.REQUEST_TO_PAY, reference_id=reference_id
    )


@endpoint("POST")
def transfer(request: HttpRequest) -> HttpResponse:
    return _submit(request, product="disbursement", kind=MtnKind.TRANSFER, role="payee")


@endpoint("GET")
def transfer_status(request: HttpRequest, reference_id: str) -> HttpResponse:
    return _status(
        request, product="disbursement", kind=MtnKind.TRANSFER, reference_id=reference_id
    )


@endpoint("POST")
def deposit(request: HttpRequest, version: str) -> HttpResponse:
    return _submit(request, product="disbursement", kind=MtnKind.DEPOSIT, role="payee")


@endpoint("GET")
def deposit_status(request: HttpRequest, reference_id: str) -> HttpResponse:
    return _status(request, product="disbursement", kind=MtnKind.DEPOSIT, reference_id=reference_id)


@endpoint("POST")
def refund(request: HttpRequest, version: str) -> HttpResponse:
    return _submit(request, product="disbursement", kind=MtnKind.REFUND, role=None)


@endpoint("GET")
def refund_status(request: HttpRequest, reference_id: str) -> HttpResponse:
    return _status(request, product="disbursement", kind=MtnKind.REFUND, reference_id=reference_id)


# --- Account ---------------------------------------------------------------------------------


@endpoint("GET")
def balance(request: HttpRequest, product: str, currency: str | None = None) -> HttpResponse:
    caller = _authorize(request, product)
    account_currency = parsing.CURRENCY_BY_ENVIRONMENT[caller.environment]
    if currency is not None:
        parsing.check_currency(currency, environment=caller.environment)
    available = selectors.get_balance(
        user=caller.user, product=caller.product, currency=account_currency
    )
    return JsonResponse(
        {"availableBalance": bodies.amount_text(available), "currency": account_currency}
    )


_ID_TYPES = {
    "msisdn": parsing.PartyIdType.MSISDN,
    "email": parsing.PartyIdType.EMAIL,
    "party_code": parsing.PartyIdType.PARTY_CODE,
}


def _holder(request: HttpRequest, *, product: str, id_type: str, party_id: str) -> scenarios.Holder:
    _authorize(request, product)
    parsing.check_party_id(id_type=_ID_TYPES[id_type], party_id=party_id)
    holder = scenarios.for_holder(party_id) if id_type == "msisdn" else scenarios.Holder()
    if holder.error is not None:
        raise holder.error()
    return holder


@endpoint("GET")
def account_holder_active(
    request: HttpRequest, product: str, id_type: str, party_id: str
) -> HttpResponse:
    holder = _holder(request, product=product, id_type=id_type, party_id=party_id)
    return JsonResponse({"result": holder.found and holder.active})


@endpoint("GET")
def basic_user_info(request: HttpRequest, product: str, party_id: str) -> HttpResponse:
    holder = _holder(request, product=product, id_type="msisdn", party_id=party_id)
    if not holder.found:
        raise errors.ResourceNotFound()
    # A made-up person: the simulator has no customer register.
    return JsonResponse(
        {
            "given_name": "Sand",
            "family_name": "Box",
            "birthdate": "1976-08-13",
            "locale": "sv_SE",
            "gender": "MALE",
            "status": "ACTIVE" if holder.active else "INACTIVE",
        }
    )


@endpoint("GET")
def route_not_found(request: HttpRequest) -> HttpResponse:
    raise errors.RouteNotFound()
