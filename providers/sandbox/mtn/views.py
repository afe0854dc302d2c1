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
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from providers.sandbox import chaos
from providers.sandbox.mtn import bodies, errors, parsing, scenarios, selectors, services
from providers.sandbox.mtn.models import MtnKind, MtnProduct

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


def _check_subscription_key(request: HttpRequest, product: str | None) -> None:
    """A key of the product whose path this is (any product's key for sandbox provisioning):
    API Management knows a key by its subscription, and a subscription is one product."""
    key = request.headers.get("Ocp-Apim-Subscription-Key") or request.GET.get("subscription-key")
    if not key:
        raise errors.MissingSubscriptionKey()
    owner = selectors.product_of_key(key)
    if owner is None or (product is not None and owner != product):
        raise errors.InvalidSubscriptionKey()


def _target_environment(request: HttpRequest, user: selectors.ApiUser) -> str:
    environment = request.headers.get("X-Target-Environment")
    if not environment:
        raise errors.ValidationError("X-Target-Environment header is required.")
    if environment not in user.target_environments:
        raise errors.NotAllowedTargetEnvironment()
    return environment


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.InvalidAccessToken()
    return token.strip()


def _authorize(request: HttpRequest, product: str) -> Caller:
    """Subscription key, a bearer token of this product, a target environment it may use."""
    _check_subscription_key(request, product)
    user = selectors.authenticate_token(token=_bearer(request), product=MtnProduct(product))
    environment = _target_environment(request, user)
    return Caller(user=user, product=MtnProduct(product), environment=environment)


def _reference_id(request: HttpRequest) -> uuid.UUID:
    return parsing.parse_uuid4(request.headers.get("X-Reference-Id"), name="X-Reference-Id")


def _empty(status: int) -> HttpResponse:
    return HttpResponse(status=status)


# --- Sandbox provisioning (subscription key only) ------------------------------------------


@endpoint("POST")
def create_api_user(request: HttpRequest) -> HttpResponse:
    _check_subscription_key(request, None)
    user_id = _reference_id(request)
    data = parsing.parse_json_object(request.body)
    host = data.get("providerCallbackHost")
    if not isinstance(host, str) or not host.strip() or len(host) > 255:
        raise errors.ValidationError("providerCallbackHost is required.")
    services.create_api_user(user_id=user_id, provider_callback_host=host.strip())
    return _empty(201)


@endpoint("POST")
def create_api_key(request: HttpRequest, user_id: str) -> HttpResponse:
    _check_subscription_key(request, None)
    return JsonResponse({"apiKey": services.create_api_key(user_id=user_id)}, status=201)


@endpoint("GET")
def api_user(request: HttpRequest, user_id: str) -> HttpResponse:
    _check_subscription_key(request, None)
    user = selectors.get_provisioned_user(user_id=user_id)
    return JsonResponse(
        {"providerCallbackHost": user.provider_callback_host, "targetEnvironment": "sandbox"}
    )


# --- Tokens ----------------------------------------------------------------------------------


def _basic_user(request: HttpRequest) -> selectors.ApiUser:
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
    return selectors.authenticate_api_key(user_id=user_id, api_key=api_key)


@endpoint("POST")
def create_access_token(request: HttpRequest, product: str) -> HttpResponse:
    _check_subscription_key(request, product)
    # MTN's sandbox answers `{}`, `null` or a grant_type here as if there were no body; its
    # error page lists a body as a 400, which the strict setting reproduces.
    if request.body and settings.MTN_SIMULATOR_STRICT_TOKEN_BODY:
        raise errors.ValidationError("The token request must not have a body.")
    user = _basic_user(request)
    issued = services.issue_access_token(user=user, product=MtnProduct(product))
    return JsonResponse(
        {
            "access_token": issued.access_token,
            "token_type": "access_token",
            "expires_in": issued.expires_in,
        }
    )


# --- Consent (CIBA): bc-authorize, oauth2 token, userinfo -----------------------------------


@endpoint("POST")
def bc_authorize(request: HttpRequest, product: str) -> HttpResponse:
    _check_subscription_key(request, product)
    user = _basic_user(request)
    environment = _target_environment(request, user)
    form = parsing.parse_form(request.body, request.content_type or "")
    consent_request = parsing.parse_consent_request(form)
    callback_url = parsing.parse_callback_url(
        request.headers.get("X-Callback-Url"), registered_host=user.callback_host
    )
    consent = services.request_consent(
        user=user,
        product=MtnProduct(product),
        environment=environment,
        request=consent_request,
        callback_url=callback_url,
    )
    return JsonResponse(
        {
            "auth_req_id": str(consent.auth_req_id),
            "interval": services.CONSENT_POLL_INTERVAL,
            "expires_in": int(services.CONSENT_TTL.total_seconds()),
        }
    )


@endpoint("POST")
def create_oauth2_token(request: HttpRequest, product: str) -> HttpResponse:
    _check_subscription_key(request, product)
    user = _basic_user(request)
    form = parsing.parse_form(request.body, request.content_type or "")
    if form.get("grant_type") != services.CIBA_GRANT_TYPE:
        raise errors.OAuthError(
            "unsupported_grant_type", f"grant_type must be {services.CIBA_GRANT_TYPE}."
        )
    if not form.get("auth_req_id"):
        raise errors.OAuthError("invalid_request", "auth_req_id is required.")
    token = services.redeem_consent(
        user=user, product=MtnProduct(product), auth_req_id=form["auth_req_id"]
    )
    body: dict[str, object] = {
        "access_token": token.issued.access_token,
        "token_type": "Bearer",
        "expires_in": token.issued.expires_in,
        "scope": token.scope,
    }
    if token.refresh_token:
        body["refresh_token"] = token.refresh_token
        # MTN's spelling.
        body["refresh_token_expired_in"] = int(services.REFRESH_TOKEN_TTL.total_seconds())
    return JsonResponse(body)


@endpoint("GET")
def user_info_with_consent(request: HttpRequest, product: str) -> HttpResponse:
    _check_subscription_key(request, product)
    token = selectors.authenticate_consent_token(
        token=_bearer(request), product=MtnProduct(product)
    )
    holder = scenarios.for_holder(token.subject)
    return JsonResponse(bodies.user_info_body(token.subject, active=holder.active))


# --- Money-moving requests and their status ------------------------------------------------

Parser = Callable[[dict[str, Any], str], parsing.MoneyRequest]


def _money(role: str | None) -> Parser:
    return lambda data, environment: parsing.parse_money_request(
        data, role=role, environment=environment
    )


# Each kind: its product, the body parser.
KINDS: dict[MtnKind, tuple[MtnProduct, Parser]] = {
    MtnKind.REQUEST_TO_PAY: (MtnProduct.COLLECTION, _money("payer")),
    MtnKind.REQUEST_TO_WITHDRAW: (MtnProduct.COLLECTION, _money("payer")),
    MtnKind.DEPOSIT: (MtnProduct.DISBURSEMENT, _money("payee")),
    MtnKind.REFUND: (MtnProduct.DISBURSEMENT, _money(None)),
    MtnKind.PREAPPROVAL: (
        MtnProduct.COLLECTION,
        lambda data, environment: parsing.parse_preapproval(data, environment=environment),
    ),
    MtnKind.INVOICE: (
        MtnProduct.COLLECTION,
        lambda data, environment: parsing.parse_invoice(data, environment=environment),
    ),
    MtnKind.PAYMENT: (
        MtnProduct.COLLECTION,
        lambda data, environment: parsing.parse_payment(data, environment=environment),
    ),
    MtnKind.CASH_TRANSFER: (
        MtnProduct.REMITTANCE,
        lambda data, environment: parsing.parse_cash_transfer(data, environment=environment),
    ),
}


def _submit(
    request: HttpRequest, *, product: str, kind: MtnKind, version: str, parse: Parser
) -> HttpResponse:
    caller = _authorize(request, product)
    reference_id = _reference_id(request)
    data = parsing.parse_json_object(request.body)
    money = parse(data, caller.environment)
    callback_url = parsing.parse_callback_url(
        request.headers.get("X-Callback-Url"), registered_host=caller.user.callback_host
    )
    _, scenario = services.submit_transaction(
        user=caller.user,
        environment=caller.environment,
        product=caller.product,
        kind=kind,
        version=version,
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
    if chaos.disturb_read(slow_seconds=settings.MTN_SIMULATOR_SLOW_SECONDS):
        raise errors.ServiceUnavailable()
    row = selectors.get_transaction(
        product=caller.product, kind=kind, reference_id=reference_id, user=caller.user
    )
    return JsonResponse(bodies.status_body(row, status=row.status_at(timezone.now())))


@endpoint("POST")
def submit(request: HttpRequest, kind: str, version: str = "v1_0") -> HttpResponse:
    """POST /collection/{v}/requesttopay, …/requesttowithdraw, …/preapproval, …/invoice,
    …/payment; /disbursement/{v}/deposit, …/refund; /remittance/v2_0/cashtransfer."""
    product, parse = KINDS[MtnKind(kind)]
    return _submit(request, product=product, kind=MtnKind(kind), version=version, parse=parse)


@endpoint("GET")
def status(
    request: HttpRequest, kind: str, reference_id: str, version: str = "v1_0"
) -> HttpResponse:
    product, _ = KINDS[MtnKind(kind)]
    return _status(request, product=product, kind=MtnKind(kind), reference_id=reference_id)


@endpoint("POST")
def transfer(request: HttpRequest, product: str) -> HttpResponse:
    """Disbursement's and remittance's transfer (the same operation in both products)."""
    return _submit(
        request, product=product, kind=MtnKind.TRANSFER, version="v1_0", parse=_money("payee")
    )


@endpoint("GET")
def transfer_status(request: HttpRequest, product: str, reference_id: str) -> HttpResponse:
    return _status(request, product=product, kind=MtnKind.TRANSFER, reference_id=reference_id)


@endpoint("POST")
def delivery_notification(request: HttpRequest, reference_id: str) -> HttpResponse:
    """A message for the payer of a request to pay, in the `notificationMessage` header or
    body (at most 160 characters), optionally with a `Language`."""
    caller = _authorize(request, MtnProduct.COLLECTION)
    notification = parsing.parse_delivery_notification(
        header=request.headers.get("notificationMessage"),
        body=request.body,
        language=request.headers.get("Language"),
    )
    row = selectors.get_transaction(
        product=caller.product,
        kind=MtnKind.REQUEST_TO_PAY,
        reference_id=reference_id,
        user=caller.user,
    )
    services.record_delivery_notification(row=row, notification=notification)
    return _empty(200)


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


# MTN's reference spells the id types in lower case; clients also send them in capitals.
_ID_TYPES = {
    "msisdn": parsing.PartyIdType.MSISDN,
    "email": parsing.PartyIdType.EMAIL,
    "party_code": parsing.PartyIdType.PARTY_CODE,
}


def _holder(request: HttpRequest, *, product: str, id_type: str, party_id: str) -> scenarios.Holder:
    _authorize(request, product)
    party_id_type = _ID_TYPES[id_type.lower()]
    parsing.check_party_id(id_type=party_id_type, party_id=party_id)
    if party_id_type != parsing.PartyIdType.MSISDN:
        return scenarios.Holder()
    holder = scenarios.for_holder(party_id)
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
def basic_user_info(
    request: HttpRequest, product: str, id_type: str, party_id: str
) -> HttpResponse:
    holder = _holder(request, product=product, id_type=id_type, party_id=party_id)
    if not holder.found:
        raise errors.ResourceNotFound()
    body = bodies.user_info_body(party_id, active=holder.active)
    # basicuserinfo has no OpenID subject or phone fields, only the KYC names and status.
    for key in ("sub", "name", "phone_number", "phone_number_verified"):
        body.pop(key)
    return JsonResponse(body)


@endpoint("GET")
def route_not_found(request: HttpRequest) -> HttpResponse:
    raise errors.RouteNotFound()
