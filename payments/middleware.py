"""Idempotency-Key handling for every mutating /api/v1/ request (see payments.idempotency)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from gateway import errors
from payments import idempotency
from tenants.authentication import resolve_caller

_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _applies(request: HttpRequest) -> bool:
    if not (
        request.method in _MUTATING
        and request.path.startswith("/api/v1/")
        # Operators' callbacks carry no API key and are idempotent by design.
        and not request.path.startswith("/api/v1/webhooks/")
        and "Idempotency-Key" in request.headers
    ):
        return False
    # An unknown path or a method the view lacks gets its plain 404/405: no key is spent.
    try:
        view_class = getattr(resolve(request.path).func, "view_class", None)
    except Resolver404:
        return False
    return (
        view_class is not None
        and hasattr(view_class, (request.method or "").lower())
        # A view that waits on a merchant's or an operator's server during the request (a
        # webhook ping) must not run inside the key's transaction; such views are safe to
        # repeat by nature, so they take no key.
        and not getattr(view_class, "calls_out_during_request", False)
    )


class IdempotencyMiddleware:
    """Replays a finished request's answer, or runs the request and stores its answer, all in
    the request's one transaction (payments.idempotency says what each case means)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _applies(request):
            return self.get_response(request)
        try:
            key = idempotency.validate_key(request.headers["Idempotency-Key"])
            caller = resolve_caller(request)
            if caller is None:
                return self.get_response(request)  # the view answers 401
            method, path = request.method or "", request.path
            digest = idempotency.fingerprint(request.body)
            replay = idempotency.replay(
                caller=caller, key=key, method=method, path=path, digest=digest
            )
            if replay is not None:
                return replay
            # The claim, the request's writes and its stored response commit together, or
            # not at all: a failed request (an exception, an answer that is not stored, the
            # database going away, even at the commit) leaves no key and no work behind.
            with transaction.atomic(durable=True):
                claim = idempotency.claim(
                    caller=caller, key=key, method=method, path=path, digest=digest
                )
                if claim.replay is not None:
                    return claim.replay
                assert claim.record is not None  # noqa: S101  # claim() returns one or the other
                response = self.get_response(request)
                if not idempotency.complete(record=claim.record, response=response):
                    transaction.set_rollback(True)
        except (errors.GatewayError, OperationalError, InterfaceError) as exc:
            # A refused key, or the database unreachable: nothing is known to be done, and a
            # retry with the same key replays what committed or runs the request again. Never
            # a 500 (as_gateway_error logs a database error).
            error = errors.as_gateway_error(exc) or errors.GatewayError()
            return errors.problem_response(error)
        return response
