"""Cross-cutting request handling: request ids, access logs, body size limit, URL characters,
response headers (no-store on the API, CSP on pages), who may read /metrics, and browser
machinery (sessions, CSRF, messages) kept off the API."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone

from gateway import context, errors, jsonbody, metrics

logger = logging.getLogger("gateway.access")

Handler = Callable[[HttpRequest], HttpResponse]

# A caller's id is kept only if it is short and plain, so it cannot inject into logs or headers.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class RequestIdMiddleware:
    """Accept a sane incoming X-Request-ID or make one; echo it; put it on every log line."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        token = context.request_id.set(request_id)
        ip_token = context.client_ip.set(request.META.get("REMOTE_ADDR") or None)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "request finished",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return response
        finally:
            context.request_id.reset(token)
            context.client_ip.reset(ip_token)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every /api/ answer: payments, balances and keys are one
    tenant's, and no browser, proxy or CDN may keep a copy."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            response["Cache-Control"] = "no-store"
        return response


class ContentSecurityPolicyMiddleware:
    """The CONTENT_SECURITY_POLICY header on HTML pages (the admin, Swagger UI). Django 5.2
    has none of its own; the policy is one static string because no page of ours needs an
    inline script or style (Swagger UI's start-up script is served as a file)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy: str = settings.CONTENT_SECURITY_POLICY
        if policy and response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", policy)
        return response


class MetricsAccessMiddleware:
    """/metrics for clients in METRICS_ALLOWED_NETWORKS, or with METRICS_BEARER_TOKEN; 403
    for anyone else, before the page reads the database. A request relayed by a proxy is
    judged by every address in its X-Forwarded-For as well: through the public ingress, the
    peer is the ingress (a private address), the client is the first hop."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/metrics" and not metrics_allowed(request):
            return HttpResponseForbidden(metrics.FORBIDDEN, content_type="text/plain")
        return self.get_response(request)


def metrics_allowed(request: HttpRequest) -> bool:
    return metrics.access_allowed(
        peer=request.META.get("REMOTE_ADDR", ""),
        authorization=request.headers.get("Authorization", ""),
        forwarded_for=request.headers.get("X-Forwarded-For", ""),
    )


# Where a body carries up to 1,000 payouts: the API's batch and the admin's CSV upload.
BATCH_PATHS = frozenset({"/api/v1/payout-batches", "/admin/payouts/payoutbatch/add/"})


class BodySizeLimitMiddleware:
    """Refuse an oversized body from its Content-Length, before anything reads it."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return errors.problem_response(errors.MalformedRequest("Invalid Content-Length."))
        limit: int = (
            settings.PAYOUT_BATCH_MAX_BODY_BYTES
            if request.path in BATCH_PATHS
            else settings.MAX_REQUEST_BODY_BYTES
        )
        if length > limit:
            return errors.problem_response(
                errors.RequestTooLarge(f"The body is {length} bytes; the limit is {limit}.")
            )
        return self.get_response(request)


class UnstorableUrlMiddleware:
    """Refuse NUL and lone surrogates in the path or query string before any view sees them.

    PostgreSQL cannot compare or store such text: a lookup by a path segment or a filter value
    holding one would end as a 500. Placed before anything that touches the database.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        detail = _unstorable_in_url(request)
        if detail is not None:
            return errors.problem_response(errors.MalformedRequest(detail))
        return self.get_response(request)


def _unstorable_in_url(request: HttpRequest) -> str | None:
    if problem := jsonbody.unstorable(request.path):
        return f"The path contains {problem}."
    for name, values in request.GET.lists():
        for text in (name, *values):
            if problem := jsonbody.unstorable(text):
                return f"The query string contains {problem}."
    return None


# --- browser machinery, for browser pages only ---------------------------------------------

API_PREFIX = "/api/v1/"


_Answer = HttpResponseBase | Awaitable[HttpResponseBase]  # MiddlewareMixin.__call__'s


def _api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


# Django's session, auth, messages and CSRF middleware, skipped for the API: API requests
# carry an API key, never a session cookie or a CSRF token (DRF's views are CSRF-exempt), and
# have no messages to show, so each would only cost time. The admin keeps all of them.
# Subclasses, so that Django's admin checks still find them.


class WebSessionMiddleware(SessionMiddleware):
    def __call__(self, request: HttpRequest) -> _Answer:
        return self.get_response(request) if _api(request) else super().__call__(request)


class WebAuthenticationMiddleware(AuthenticationMiddleware):
    def __call__(self, request: HttpRequest) -> _Answer:
        return self.get_response(request) if _api(request) else super().__call__(request)


class WebMessageMiddleware(MessageMiddleware):
    def __call__(self, request: HttpRequest) -> _Answer:
        return self.get_response(request) if _api(request) else super().__call__(request)


class WebCsrfViewMiddleware(CsrfViewMiddleware):
    def __call__(self, request: HttpRequest) -> _Answer:
        return self.get_response(request) if _api(request) else super().__call__(request)

    def process_view(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseForbidden | None:
        if _api(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class BackofficeTimeZoneMiddleware:
    """Browser pages (the admin) show times in the ops team's zone, Africa/Lusaka, labelled
    with it (the admin's datetime format ends in the zone's name); the API and the database
    stay in UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _api(request):
            return self.get_response(request)
        with timezone.override(settings.BACKOFFICE_TIME_ZONE):
            return self.get_response(request)
