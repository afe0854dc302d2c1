"""Strict query strings: an API read accepts exactly the query parameters its view declares.

An unknown parameter used to be ignored, so `?provider_transaction_id=…` (a filter that does
not exist) listed every payment and a reconciliation script matched the wrong rows without a
word. A view declares what it reads, and the same declaration feeds the OpenAPI schema
(gateway.openapi.GatewayAutoSchema), so the documented and the accepted parameters are one list:

    class PaymentListCreateView(APIView):
        query_serializer = PaymentFilterSerializer    # the filters
        pagination_class = PaymentCursorPagination    # adds limit and cursor
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework import serializers
from rest_framework.views import APIView

from gateway import errors

API_PREFIX = "/api/v1/"
_READS = {"GET", "HEAD"}


class PageQuerySerializer(serializers.Serializer[dict[str, Any]]):
    """The cursor pagination's own parameters (payments.views.PaymentCursorPagination)."""

    limit = serializers.IntegerField(
        min_value=1, max_value=100, required=False, help_text="Page size, 1-100 (default 25)."
    )
    cursor = serializers.CharField(
        required=False,
        help_text="Opaque: follow the next or previous link of a list answer as it is.",
    )


def query_serializers(view_class: type[APIView]) -> list[type[serializers.Serializer[Any]]]:
    """What a view's GET reads from the query string: its filters, then its pages."""
    declared: list[type[serializers.Serializer[Any]]] = []
    if (filters := getattr(view_class, "query_serializer", None)) is not None:
        declared.append(filters)
    if getattr(view_class, "pagination_class", None) is not None:
        declared.append(PageQuerySerializer)
    return declared


def accepted_query_params(view_class: type[APIView]) -> set[str]:
    names: set[str] = set()
    for serializer in query_serializers(view_class):
        names.update(serializer().fields)
    return names


class StrictQueryParamsMiddleware:
    """400 unknown_query_parameter for an API read with a parameter its view does not declare.

    Reads only: a write's parameters are its JSON body. Only DRF views under /api/v1/: the
    operators' callbacks and simulators keep whatever query strings the operators send.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        view_class = getattr(view_func, "view_class", None)
        if (
            request.method not in _READS
            or not request.path.startswith(API_PREFIX)
            or not (isinstance(view_class, type) and issubclass(view_class, APIView))
        ):
            return None
        accepted = accepted_query_params(view_class)
        unknown = sorted(set(request.GET) - accepted)
        if not unknown:
            return _empty_values(request)
        allowed = ", ".join(sorted(accepted)) or "none"
        return errors.problem_response(
            errors.UnknownQueryParameter(
                f"Unknown query parameter(s): {', '.join(unknown)}. "
                f"This endpoint accepts: {allowed}.",
                errors=[
                    {"field": name, "message": "Not a query parameter of this endpoint."}
                    for name in unknown
                ],
            )
        )


def _empty_values(request: HttpRequest) -> HttpResponse | None:
    """400 for `?status=`: DRF reads an empty value as no parameter at all (a form's habit),
    so a client's empty filter listed every row; the schema asks for at least one character."""
    empty = sorted(name for name, values in request.GET.lists() if "" in values)
    if not empty:
        return None
    return errors.problem_response(
        errors.ValidationFailed(
            errors=[
                {"field": name, "message": "An empty value filters nothing: leave it out."}
                for name in empty
            ]
        )
    )
