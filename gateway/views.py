"""The error catalogue: every problem `type` URI resolves to a description of its code."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway import errors


def _describe(error_class: type[errors.GatewayError]) -> dict[str, Any]:
    return {
        "code": error_class.code,
        "status": error_class.status,
        "title": error_class.title,
        "retryable": error_class.retryable,
    }


class ErrorCatalogueView(APIView):
    schema = None  # reference pages for problem types, not an API operation
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request, code: str | None = None) -> Response:
        if code is None:
            catalogue = sorted(errors.GatewayError.registry.values(), key=lambda c: c.code)
            return Response({"object": "list", "data": [_describe(c) for c in catalogue]})
        error_class = errors.GatewayError.registry.get(code)
        if error_class is None:
            raise errors.NotFound(f"No error code {code!r}.")
        return Response(_describe(error_class))
