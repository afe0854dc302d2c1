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
    return view_class is not None and hasattr(view_class, (request.method or "").lower())


class IdempotencyMiddleware:
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
            claim = idempotency.claim(
                caller=caller,
                key=key,
                method=request.method or "",
                path=request.path,
                body=request.body,
            )
        except (errors.GatewayError, OperationalError, InterfaceError) as exc:
            error = errors.as_gateway_error(exc) or errors.GatewayError()
            return errors.problem_response(error)
        if claim.replay is not None:
            return claim.replay
        assert claim.record is not None  # noqa: S101  # claim() returns one or the other
        try:
            # The request's writes and its stored response commit together, or not at all.
            with transaction.atomic():
                response = self.get_response(request)
                stored = idempotency.complete(record=claim.record, response=response)
                if not stored:
                    transaction.set_rollback(True)  # a failed request leaves nothing behind
        except (OperationalError, InterfaceError) as exc:
            # The database went away during the request, or while committing it: nothing is
            # known to be done, and a retry with the same key either replays what committed
            # or runs the request again. Never a 500 (as_gateway_error logs it).
            idempotency.release(record=claim.record)
            return errors.problem_response(errors.as_gateway_error(exc) or errors.GatewayError())
        except BaseException:
            idempotency.release(record=claim.record)
            raise
        if not stored:
            idempotency.release(record=claim.record)
        return response
