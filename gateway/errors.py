"""One error hierarchy, rendered as RFC 9457 problem+json everywhere.

Every error a client can see is a `GatewayError` subclass: its HTTP status, stable `code`, title
and `retryable` flag are class attributes, so the catalogue at `/errors/` and the responses
cannot drift apart. DRF's and Django's own exceptions are translated into these classes in one
place (`as_gateway_error`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions as drf

from gateway import context

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PATH = "/errors/"


class GatewayError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    remedy: ClassVar[str] = (  # what the client should do about it (shown at /errors/)
        "Nothing is wrong with your request. Retry with the same Idempotency-Key (nothing is done"
        " twice); if it persists, write to support quoting the request_id."
    )
    retryable: ClassVar[bool] = True
    api: ClassVar[bool] = True  # False: only an operator's callback can get it (not in schema)
    registry: ClassVar[dict[str, type[GatewayError]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        GatewayError.registry[cls.code] = cls

    def __init__(
        self,
        detail: str = "",
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = extra


GatewayError.registry[GatewayError.code] = GatewayError


class MalformedRequest(GatewayError):
    status = 400
    code = "malformed_request"
    title = "The request could not be parsed"
    remedy = (
        "Send a body of valid JSON in UTF-8 with Content-Type: application/json, and no NUL "
        "characters in the URL."
    )
    retryable = False


class InvalidJson(MalformedRequest):
    """JSON that parses but cannot be accepted: nested too deep, or text PostgreSQL cannot store."""

    code = "invalid_json"
    title = "The JSON body holds something the gateway cannot accept"
    remedy = (
        "Remove what `errors` points at: NUL characters or lone surrogates in strings, NaN or "
        "infinite numbers, or nesting deeper than 32 levels."
    )


class ValidationFailed(GatewayError):
    status = 400
    code = "validation_error"
    title = "The request has invalid fields"
    remedy = "Correct each field listed in `errors` (field and message) and send the request again."
    retryable = False


class UnknownQueryParameter(GatewayError):
    status = 400
    code = "unknown_query_parameter"
    title = "The query string has parameters this endpoint does not accept"
    remedy = (
        "Remove or correct the parameters named in `errors`; `detail` lists the ones this "
        "endpoint accepts, and /api/docs/ documents them."
    )
    retryable = False


class AuthenticationRequired(GatewayError):
    status = 401
    code = "authentication_required"
    title = "An API key is required"
    remedy = "Send your secret key as `Authorization: Bearer sk_test_…` (or `X-API-Key`)."
    retryable = False


class InvalidApiKey(GatewayError):
    status = 401
    code = "invalid_api_key"
    title = "The API key is not valid"
    remedy = (
        "Check that the whole key was copied (sk_test_ or sk_live_ and its random part) and that "
        "it belongs to this gateway."
    )
    retryable = False


class ApiKeyRevoked(GatewayError):
    status = 401
    code = "api_key_revoked"
    title = "The API key has been revoked"
    remedy = "Use another active key, or ask for a new one; a revoked key never works again."
    retryable = False


class ApiKeyExpired(GatewayError):
    status = 401
    code = "api_key_expired"
    title = "The API key has expired"
    remedy = (
        "Rotate to a new key (POST /api/v1/api-keys/rotate with an active key) or ask operations "
        "for one."
    )
    retryable = False


class TenantInactive(GatewayError):
    status = 401
    code = "tenant_inactive"
    title = "The account is not active"
    remedy = "Your account is suspended or closed: contact the gateway's operations team."
    retryable = False


class PermissionDenied(GatewayError):
    status = 403
    code = "permission_denied"
    title = "This key may not perform this action"
    remedy = "Use a key allowed to do this, or ask operations to grant it."
    retryable = False


class TenantMismatch(GatewayError):
    status = 403
    code = "tenant_mismatch"
    title = "X-Tenant-ID does not match the API key's tenant"
    remedy = "Drop the X-Tenant-ID header, or send the id of the account the key belongs to."
    retryable = False


class SignupDisabled(GatewayError):
    status = 403
    code = "signup_disabled"
    title = "Self sign-up is disabled on this gateway"
    remedy = "Ask the gateway's operations team to create your account."
    retryable = False


class NotFound(GatewayError):
    status = 404
    code = "not_found"
    title = "Not found"
    remedy = (
        "Check the URL against /api/docs/; ids are per account and mode, so a test key does not "
        "see live objects."
    )
    retryable = False


class TrailingSlash(NotFound):
    code = "trailing_slash"
    title = "API paths have no trailing slash"
    remedy = "Send the request again to the URL in `path`, without the trailing slash."


class MethodNotAllowed(GatewayError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"
    remedy = "Use one of the methods in the Allow header; /api/docs/ lists each path's operations."
    retryable = False


class NotAcceptable(GatewayError):
    status = 406
    code = "not_acceptable"
    title = "Cannot produce the requested media type"
    remedy = "Accept application/json (or */*); error bodies are application/problem+json."
    retryable = False


class RequestTooLarge(GatewayError):
    status = 413
    code = "request_too_large"
    title = "The request body is too large"
    remedy = "Send a smaller body; split large jobs into several requests."
    retryable = False


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "unsupported_media_type"
    title = "Send the body as application/json"
    remedy = "Send the body as JSON with Content-Type: application/json."
    retryable = False


class RateLimited(GatewayError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"
    remedy = (
        "Wait the seconds in Retry-After, then retry; the RateLimit headers show your remaining "
        "budget."
    )
    retryable = True


class ServiceUnavailable(GatewayError):
    status = 503
    code = "service_unavailable"
    title = "The service is temporarily unavailable"
    remedy = (
        "Retry after the seconds in Retry-After with the same Idempotency-Key; nothing was done."
    )
    retryable = True


def problem_response(error: GatewayError) -> HttpResponse:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_PATH}{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "retryable": error.retryable,
        "request_id": context.request_id.get(),
    }
    if error.errors is not None:
        body["errors"] = error.errors
    body.update(error.extra)
    response = HttpResponse(
        json.dumps(body, default=str), status=error.status, content_type=PROBLEM_CONTENT_TYPE
    )
    for name, value in error.headers.items():
        response[name] = value
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def field_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested error detail into `[{field, message}]`, fields as dotted paths."""
    if isinstance(detail, Mapping):
        return [
            error
            for key, value in detail.items()
            for error in field_errors(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(detail, list):
        if all(not isinstance(item, Mapping | list) for item in detail):
            return [{"field": prefix or "non_field_errors", "message": str(m)} for m in detail]
        return [
            error
            for index, item in enumerate(detail)
            for error in field_errors(item, f"{prefix}.{index}" if prefix else str(index))
        ]
    return [{"field": prefix or "non_field_errors", "message": str(detail)}]


def as_gateway_error(exc: Exception) -> GatewayError | None:
    """Translate a framework exception into ours; None for anything unexpected (a bug)."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, drf.ValidationError):
        return ValidationFailed(errors=field_errors(exc.detail))
    if isinstance(exc, drf.Throttled):
        wait = max(1, int(getattr(exc, "wait", None) or 1))
        return RateLimited(
            f"Rate limit exceeded; retry in {wait} s.", headers={"Retry-After": str(wait)}
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable or restarting: nothing was done, and a retry (with the
        # same Idempotency-Key) is the right move.
        logger.error("database unavailable", exc_info=exc)
        return ServiceUnavailable(headers={"Retry-After": "5"})
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    simple: list[tuple[type[Exception], type[GatewayError]]] = [
        (drf.ParseError, MalformedRequest),
        (drf.NotAuthenticated, AuthenticationRequired),
        (drf.AuthenticationFailed, InvalidApiKey),
        (drf.PermissionDenied, PermissionDenied),
        (DjangoPermissionDenied, PermissionDenied),
        (drf.NotFound, NotFound),
        (Http404, NotFound),
        (drf.NotAcceptable, NotAcceptable),
        (drf.UnsupportedMediaType, UnsupportedMediaType),
    ]
    for framework_class, gateway_class in simple:
        if isinstance(exc, framework_class):
            return gateway_class()
    return None


def exception_handler(exc: Exception, drf_context: dict[str, Any]) -> HttpResponse:
    """DRF's EXCEPTION_HANDLER: every error raised in an API view ends here."""
    error = as_gateway_error(exc)
    if error is None:
        logger.error(
            "unhandled error in API view",
            exc_info=exc,
            extra={"view": type(drf_context.get("view")).__name__},
        )
        error = GatewayError()
    return problem_response(error)


# Django-level handlers, for what never reaches a DRF view (unknown URLs, crashes in middleware).


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(MalformedRequest())


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(PermissionDenied())


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Refused, not redirected: a redirected POST loses its body in most clients, and one
    # spelling per URL keeps idempotency fingerprints and logs unambiguous. The answer names
    # the path that works.
    without_slash = request.path.rstrip("/")
    if request.path.endswith("/") and without_slash and _resolves(without_slash):
        return problem_response(
            TrailingSlash(f"Use {without_slash}, without the trailing slash.", path=without_slash)
        )
    return problem_response(NotFound(f"No resource at {request.path}."))


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def handler500(request: HttpRequest) -> HttpResponse:
    return problem_response(GatewayError())
