"""Merchants' reports: their payments over some days (JSON or CSV, streamed) and the daily
settlement summary. Tenant and mode come from the key, as everywhere in the API."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.models import Payment
from payments.serializers import PaymentSerializer, payment_body
from reports import selectors
from reports.serializers import (
    PaymentReportQuerySerializer,
    SettlementReportQuerySerializer,
    SettlementSerializer,
)
from tenants.authentication import caller_of

CSV_COLUMNS = [
    "id",
    "created_at",
    "completed_at",
    "flow",
    "status",
    "amount",
    "fee",
    "net",
    "currency",
    "msisdn",
    "provider",
    "external_id",
    "provider_transaction_id",
    "failure_code",
    "refund_of",
    "description",
]
# Free text a spreadsheet would run as a formula (CSV injection): prefixed with a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TEXT_COLUMNS = {"external_id", "description"}


def _csv_cell(column: str, value: Any) -> str:
    text = "" if value is None else str(value)
    if column in _TEXT_COLUMNS and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _csv_rows(payments: Iterator[Payment]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for payment in payments:
        body = payment_body(payment)
        body["net"] = f"{payment.net:.2f}"
        writer.writerow([_csv_cell(column, body[column]) for column in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json_rows(payments: Iterator[Payment], start: date, end: date) -> Iterator[str]:
    head = {"object": "list", "from": start.isoformat(), "to": end.isoformat()}
    yield json.dumps(head)[:-1] + ', "data": ['
    separator = ""
    for payment in payments:
        yield separator + json.dumps(payment_body(payment), cls=DjangoJSONEncoder)
        separator = ","
    yield "]}"


_CSV_EXAMPLE = (
    ",".join(CSV_COLUMNS) + "\r\n"
    "pay_NB0wCzekj7vGu9Zgk3HlxwpV,2026-12-01T10:42:05.118000Z,2026-12-01T10:42:09.530000Z,"
    "collection,SUCCESSFUL,150.00,3.75,146.25,ZMW,260961234567,mtn,order-1042,3923728637,,,"
    "Order 1042\r\n"
)


class _FormatIsOurs(DefaultContentNegotiation):
    """`format` chooses the report's format here, not one of DRF's renderers (DRF would
    answer 404 to ?format=csv): errors are always problem+json."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


class PaymentReportView(APIView):
    query_serializer = PaymentReportQuerySerializer
    content_negotiation_class = _FormatIsOurs

    @extend_schema(
        description="Your payments created in some Lusaka days (`from`..`to`, both included, "
        "at most 366), oldest first, each as the payment object (json) or as a CSV row. "
        "Streamed: any range is answered in constant memory; a big range takes longer.",
        responses={
            (200, "application/json"): inline_serializer(
                "PaymentReport",
                {
                    "object": serializers.CharField(default="list"),
                    "from": serializers.DateField(),
                    "to": serializers.DateField(),
                    "data": PaymentSerializer(many=True),
                },
            ),
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="One row per payment with a header row; amounts as decimal text.",
                examples=[OpenApiExample("Report", value=_CSV_EXAMPLE, media_type="text/csv")],
            ),
        },
        examples=[
            OpenApiExample(
                "One day",
                response_only=True,
                media_type="application/json",
                value={
                    "object": "list",
                    "from": "2026-12-01",
                    "to": "2026-12-01",
                    "data": [],
                },
            )
        ],
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        caller = caller_of(request)
        query = PaymentReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["from"], query.validated_data["to"]
        payments = selectors.iter_report_payments(
            tenant=caller.tenant, mode=caller.mode, start=start, end=end
        )
        if query.validated_data.get("format") == "csv":
            response = StreamingHttpResponse(_csv_rows(payments), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="payments-{start}-{end}.csv"'
            return response
        return StreamingHttpResponse(
            _json_rows(payments, start, end), content_type="application/json"
        )


class SettlementReportView(APIView):
    query_serializer = SettlementReportQuerySerializer

    @extend_schema(
        description="Per Lusaka day, flow, status and currency: how many payments you made, "
        "their gross amount, the fees taken and the net effect on your balance, by the "
        "ledger (posted entries: what actually settled).",
        responses=inline_serializer(
            "SettlementReport",
            {
                "object": serializers.CharField(default="list"),
                "from": serializers.DateField(),
                "to": serializers.DateField(),
                "data": SettlementSerializer(many=True),
            },
        ),
        examples=[
            OpenApiExample(
                "A day of collections",
                response_only=True,
                value={
                    "object": "list",
                    "from": "2026-12-01",
                    "to": "2026-12-01",
                    "data": [
                        {
                            "date": "2026-12-01",
                            "flow": "collection",
                            "status": "SUCCESSFUL",
                            "currency": "ZMW",
                            "count": 12,
                            "gross": "1800.00",
                            "fees": "45.00",
                            "net": "1755.00",
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        query = SettlementReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["from"], query.validated_data["to"]
        rows = selectors.list_settlements(
            tenant=caller.tenant, mode=caller.mode, start=start, end=end
        )
        return Response(
            {
                "object": "list",
                "from": start.isoformat(),
                "to": end.isoformat(),
                "data": SettlementSerializer(rows, many=True).data,  # type: ignore[arg-type]  # many=True takes a list
            }
        )
