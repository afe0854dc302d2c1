"""The error catalogue: every problem `type` URI, and every payment `failure_code`, resolves
to what happened and what to do: JSON for API clients, a readable page for a browser
(content negotiation on Accept)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway import errors
from payments import failures

FAILURE_PATH = "/errors/failures/"


def _describe(error_class: type[errors.GatewayError]) -> dict[str, Any]:
    return {
        "code": error_class.code,
        "status": error_class.status,
        "title": error_class.title,
        "retryable": error_class.retryable,
        "remedy": error_class.remedy,
        "url": f"{errors.PROBLEM_TYPE_PATH}{error_class.code}",
    }


def _describe_failure(code: str, failure: failures.Failure) -> dict[str, Any]:
    return {
        "failure_code": code,
        "title": failure.title,
        "failure_message": failure.customer_message,
        "remedy": failure.remedy,
        "retry_may_succeed": failure.retry_may_succeed,
        "url": f"{FAILURE_PATH}{code}",
    }


class _CatalogueView(APIView):
    schema = None  # reference pages for problem types, not an API operation
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    # JSON first: API clients sending */* (or nothing) get JSON; a browser's text/html wins
    # the page, as the more specific type it lists first.
    renderer_classes = [JSONRenderer, TemplateHTMLRenderer]
    template_name = "gateway/errors.html"


class ErrorCatalogueView(_CatalogueView):
    def get(self, request: Request, code: str | None = None) -> Response:
        if code is None:
            catalogue = sorted(errors.GatewayError.registry.values(), key=lambda c: c.code)
            return Response(
                {
                    "object": "list",
                    "data": [_describe(c) for c in catalogue],
                    "failure_codes": [_describe_failure(c, f) for c, f in _failures()],
                }
            )
        error_class = errors.GatewayError.registry.get(code)
        if error_class is None:
            raise errors.NotFound(f"No error code {code!r}; {errors.PROBLEM_TYPE_PATH} lists all.")
        return Response(_describe(error_class))


class FailureCodeView(_CatalogueView):
    def get(self, request: Request, code: str) -> Response:
        failure = failures.FAILURES.get(code)
        if failure is None:
            raise errors.NotFound(
                f"No failure code {code!r}; {errors.PROBLEM_TYPE_PATH} lists all."
            )
        return Response(_describe_failure(code, failure))


def _failures() -> list[tuple[str, failures.Failure]]:
    return sorted((str(code), failure) for code, failure in failures.FAILURES.items())
