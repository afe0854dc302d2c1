from __future__ import annotations

from base64 import b64decode
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway.queryparams import PageQuerySerializer
from payments import errors, selectors, services
from payments.ledger import selectors as ledger_selectors
from payments.serializers import (
    AccountHolderSerializer,
    BalanceSerializer,
    BalanceTransactionFilterSerializer,
    BalanceTransactionSerializer,
    OperatorSerializer,
    PaymentCreateSerializer,
    PaymentFilterSerializer,
    PaymentSerializer,
    RefundCreateSerializer,
    TopUpCreateSerializer,
    payment_body,
)
from providers.serializers import MsisdnField
from tenants.authentication import caller_of
from tenants.models import Mode

_CURSOR_HINT = "Use the next or previous link of a list answer as it is."


_PENDING_PAYMENT = {
    "id": "pay_NB0wCzekj7vGu9Zgk3HlxwpV",
    "object": "payment",
    "flow": "collection",
    "status": "PENDING",
    "next_action": None,
    "amount": "150.00",
    "fee": "3.75",
    "net": "146.25",
    "currency": "ZMW",
    "msisdn": "260961234567",
    "provider": "mtn",
    "routing": {"predicted": "mtn", "chosen": "mtn", "reason": "prefix"},
    "external_id": "order-1042",
    "description": "Order 1042",
    "provider_reference": "1e736c05-5d3a-4c1e-9b7f-2a8d6e4f0c91",
    "provider_transaction_id": None,
    "failure_code": None,
    "failure_message": None,
    "failure_detail": None,
    "refund_of": None,
    "mode": "test",
    "metadata": {"cart": "42"},
    "created_at": "2026-12-01T10:42:05.118000Z",
    "updated_at": "2026-12-01T10:42:05.118000Z",
    "completed_at": None,
}
_FAILED_PAYMENT = {
    **_PENDING_PAYMENT,
    "status": "FAILED",
    "failure_code": "insufficient_funds",
    "failure_message": "There is not enough money in the mobile-money account. Top it up and "
    "try again.",
    "failure_detail": "NOT_ENOUGH_FUNDS",
    "updated_at": "2026-12-01T10:42:09.530000Z",
    "completed_at": "2026-12-01T10:42:09.530000Z",
}
_PAYMENT_EXAMPLES = [
    OpenApiExample("Pending", value=_PENDING_PAYMENT, response_only=True),
    OpenApiExample("Failed", value=_FAILED_PAYMENT, response_only=True),
]


class PaymentCursorPagination(CursorPagination):
    """Newest first; stable under concurrent inserts, unlike page numbers."""

    ordering = ("-created_at", "-id")
    page_size = 25
    max_page_size = 100
    page_size_query_param = "limit"

    def decode_cursor(self, request: Request) -> Cursor | None:
        """DRF's cursor, refused with 400 invalid_cursor unless it is one we could have issued.

        DRF skips characters outside base64's alphabet (so `!!!` would read as the first page)
        and leaves the position unchecked (so a non-date reached PostgreSQL as a 500).
        """
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            b64decode(encoded, validate=True)
            cursor = super().decode_cursor(request)
        except (ValueError, NotFound):  # binascii.Error is a ValueError
            raise errors.InvalidCursor(_CURSOR_HINT) from None
        position = None if cursor is None else cursor.position
        if position is not None and not self.valid_position(str(position)):
            raise errors.InvalidCursor(_CURSOR_HINT)
        return cursor

    def valid_position(self, position: str) -> bool:
        """The position is the last row's created_at (ordering is -created_at, -id)."""
        try:
            moment = parse_datetime(position)
        except ValueError:
            return False
        return moment is not None and moment.tzinfo is not None

    def get_page_size(self, request: Request) -> int:
        """`limit`, refused with 400 when it is not 1-100 (DRF would silently clamp it)."""
        page = PageQuerySerializer(data=request.query_params)
        page.is_valid(raise_exception=True)
        return int(page.validated_data.get("limit", self.page_size))

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "object": "list",
                "data": data,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
            }
        )


class PaymentListCreateView(APIView):
    query_serializer = PaymentFilterSerializer
    pagination_class = PaymentCursorPagination

    @extend_schema(
        responses=inline_serializer(
            "PaymentList",
            {
                "object": serializers.CharField(default="list"),
                "data": PaymentSerializer(many=True),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        filters = PaymentFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        payments = selectors.list_payments(
            tenant=caller.tenant, mode=caller.mode, **filters.validated_data
        )
        paginator = PaymentCursorPagination()
        page = paginator.paginate_queryset(payments, request, view=self) or []
        return paginator.get_paginated_response([payment_body(payment) for payment in page])

    @extend_schema(
        request=PaymentCreateSerializer,
        responses={201: PaymentSerializer},
        description="Create a collection (the customer approves a prompt on their phone) or, "
        'with "flow": "disbursement", a payout from your balance. The answer is PENDING at '
        "once; the operator is called from a job. Poll GET /payments/{id} or wait for the "
        "payment.* webhook. In test mode the wallet number chooses the outcome (see "
        "docs/api.md, test numbers).",
        examples=[
            OpenApiExample(
                "Collect K150",
                request_only=True,
                value={
                    "amount": "150.00",
                    "msisdn": "0961234567",
                    "external_id": "order-1042",
                    "description": "Order 1042",
                    "metadata": {"cart": "42"},
                },
            ),
            OpenApiExample(
                "Pay out K50",
                request_only=True,
                value={
                    "flow": "disbursement",
                    "amount": "50.00",
                    "msisdn": "0961234567",
                    "external_id": "payout-77",
                },
            ),
            _PAYMENT_EXAMPLES[0],
        ],
    )
    def post(self, request: Request) -> Response:
        caller = caller_of(request)
        payload = PaymentCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        payment = services.create_payment(
            tenant=caller.tenant, mode=caller.mode, actor=caller.actor, **payload.validated_data
        )
        return Response(payment_body(payment), status=status.HTTP_201_CREATED)


class PaymentDetailView(APIView):
    @extend_schema(
        responses=PaymentSerializer,
        description="A payment of the key's account and mode (any other id is 404).",
        examples=_PAYMENT_EXAMPLES,
    )
    def get(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        payment = selectors.get_payment(tenant=caller.tenant, mode=caller.mode, public_id=public_id)
        return Response(payment_body(payment))


class PaymentRefundView(APIView):
    @extend_schema(
        request=RefundCreateSerializer,
        responses={201: PaymentSerializer},
        description="Refund a SUCCESSFUL collection, whole (no amount) or in part: a new "
        'payment with "flow": "refund" and refund_of, paid from your balance.',
        examples=[OpenApiExample("Refund K50", request_only=True, value={"amount": "50.00"})],
    )
    def post(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        payment = selectors.get_payment(tenant=caller.tenant, mode=caller.mode, public_id=public_id)
        payload = RefundCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        refund = services.create_refund(
            payment=payment, actor=caller.actor, **payload.validated_data
        )
        return Response(payment_body(refund), status=status.HTTP_201_CREATED)


class PaymentCancelView(APIView):
    @extend_schema(
        request=None,
        responses={200: PaymentSerializer},
        description="Cancel a queued payout or refund (next_action: queued): FAILED with "
        "failure_code cancelled, its reservation released, never sent to the operator. "
        "409 payment_not_cancellable for any other payment.",
    )
    def post(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        payment = selectors.get_payment(tenant=caller.tenant, mode=caller.mode, public_id=public_id)
        cancelled = services.cancel_payment(payment=payment, actor=caller.actor)
        return Response(PaymentSerializer(cancelled).data)


class OperatorListView(APIView):
    """The operators as the caller's tenant uses them in its key's mode, with their
    availability per operation."""

    @extend_schema(
        responses=inline_serializer(
            "OperatorList",
            {
                "object": serializers.CharField(default="list"),
                "mode": serializers.ChoiceField(choices=Mode.choices),
                "data": OperatorSerializer(many=True),
            },
        )
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        operators = selectors.list_operators(tenant=caller.tenant, mode=caller.mode)
        return Response(
            {
                "object": "list",
                "mode": caller.mode,
                "data": OperatorSerializer(operators, many=True).data,
            }
        )


class AccountView(APIView):
    """Whether a wallet exists and is active, and the holder's name where the operator shares it."""

    @extend_schema(responses=AccountHolderSerializer)
    def get(self, request: Request, msisdn: str) -> Response:
        caller = caller_of(request)
        number = MsisdnField().run_validation(msisdn)
        body = selectors.get_account_holder(mode=caller.mode, msisdn=number)
        return Response(AccountHolderSerializer(body).data)


class BalanceView(APIView):
    """The caller's balance in its key's mode, per currency (Stripe's balance object)."""

    @extend_schema(responses=BalanceSerializer)
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        balance = ledger_selectors.get_balance(tenant=caller.tenant, mode=caller.mode)
        return Response(BalanceSerializer(balance).data)


class BalanceTransactionListView(APIView):
    """Every ledger entry on the caller's balance, newest first, with the balance after it."""

    query_serializer = BalanceTransactionFilterSerializer
    pagination_class = PaymentCursorPagination

    @extend_schema(
        responses=inline_serializer(
            "BalanceTransactionList",
            {
                "object": serializers.CharField(default="list"),
                "data": BalanceTransactionSerializer(many=True),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        filters = BalanceTransactionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = ledger_selectors.list_balance_transactions(
            tenant=caller.tenant, mode=caller.mode, **filters.validated_data
        )
        paginator = PaymentCursorPagination()  # the same newest-first cursor as payments
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(BalanceTransactionSerializer(page, many=True).data)


class TestKeysOnly(BasePermission):
    """Refuse a live key before the body is read: 403 test_mode_only, whatever it sends."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if caller_of(request).mode != Mode.TEST:
            raise errors.TestModeOnly("Top-ups exist in test mode only; use a test key.")
        return True


class TestTopUpView(APIView):
    permission_classes = [IsAuthenticated, TestKeysOnly]

    @extend_schema(
        request=TopUpCreateSerializer,
        responses={201: BalanceTransactionSerializer},
        examples=[OpenApiExample("Top up K1,000", request_only=True, value={"amount": "1000.00"})],
    )
    def post(self, request: Request) -> Response:
        """Test money on the test balance (test keys only), as one `top_up` transaction."""
        caller = caller_of(request)
        payload = TopUpCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = services.top_up_test_balance(
            tenant=caller.tenant, mode=caller.mode, actor=caller.actor, **payload.validated_data
        )
        created = ledger_selectors.get_balance_transaction(
            tenant=caller.tenant, mode=caller.mode, entry_id=entry.pk
        )
        return Response(BalanceTransactionSerializer(created).data, status=status.HTTP_201_CREATED)
