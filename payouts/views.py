from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway.errors import ValidationFailed, field_errors
from payments.views import PaymentCursorPagination
from payouts import selectors, services
from payouts.models import PayoutBatch, PayoutBatchItem
from payouts.serializers import (
    PayoutBatchCancelSerializer,
    PayoutBatchCreateSerializer,
    PayoutBatchSerializer,
)
from tenants.authentication import caller_of

_TIMESTAMP = serializers.DateTimeField()


class ItemCursorPagination(PaymentCursorPagination):
    """The batch's items in the order they were sent."""

    ordering = ("index", "id")

    def valid_position(self, position: str) -> bool:
        return position.isdigit()


def batch_body(request: Request, batch: PayoutBatch, view: APIView) -> dict[str, Any]:
    paginator = ItemCursorPagination()
    page = paginator.paginate_queryset(selectors.list_items(batch=batch), request, view=view)
    # The links page through GET /payout-batches/{id}, whichever request this answers.
    paginator.base_url = request.build_absolute_uri(
        reverse("payout-batch-detail", kwargs={"public_id": batch.public_id})
    )
    return {
        "id": batch.public_id,
        "object": "payout_batch",
        "mode": batch.mode,
        "currency": batch.currency,
        "item_count": batch.item_count,
        "created_at": _TIMESTAMP.to_representation(batch.created_at),
        "cancelled_at": (
            _TIMESTAMP.to_representation(batch.cancelled_at) if batch.cancelled_at else None
        ),
        "totals": {
            state: {"count": total["count"], "amount": f"{total['amount']:.2f}"}
            for state, total in selectors.get_totals(batch=batch).items()
        },
        "items": {
            "object": "list",
            "data": [_item_body(item) for item in page or []],
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
        },
    }


def _item_body(item: PayoutBatchItem) -> dict[str, Any]:
    payment = item.payment
    return {
        "index": item.index,
        "external_id": item.external_id,
        "amount": f"{item.amount:.2f}",
        "msisdn": item.msisdn,
        "status": payment.status if payment else selectors.REJECTED,
        "payment": payment.public_id if payment else None,
        "provider": payment.provider if payment else None,
        "next_action": payment.next_action if payment else None,
        "failure_code": (payment.failure_code or None) if payment else None,
        "duplicate_of": item.duplicate_of or None,
    }


_BATCH_EXAMPLE = {
    "id": "pob_4rT9kQ2mXc8LpV0aZy7bN3wE",
    "object": "payout_batch",
    "mode": "test",
    "currency": "ZMW",
    "item_count": 2,
    "created_at": "2026-12-01T10:42:05.118000Z",
    "cancelled_at": None,
    "totals": {
        "PENDING": {"count": 1, "amount": "50.00"},
        "SUCCESSFUL": {"count": 0, "amount": "0.00"},
        "FAILED": {"count": 0, "amount": "0.00"},
        "REJECTED": {"count": 1, "amount": "75.00"},
    },
    "items": {
        "object": "list",
        "data": [
            {
                "index": 0,
                "external_id": "salary-2026-12-001",
                "amount": "50.00",
                "msisdn": "260961234567",
                "status": "PENDING",
                "payment": "pay_NB0wCzekj7vGu9Zgk3HlxwpV",
                "provider": "mtn",
                "next_action": None,
                "failure_code": None,
                "duplicate_of": None,
            },
            {
                "index": 1,
                "external_id": "salary-2026-12-002",
                "amount": "75.00",
                "msisdn": "260971234567",
                "status": "REJECTED",
                "payment": None,
                "provider": None,
                "next_action": None,
                "failure_code": None,
                "duplicate_of": "pay_8hYt2LmQw3ZxC0vBn7KdPs1R",
            },
        ],
        "next": None,
        "previous": None,
    },
}


class PayoutBatchCreateView(APIView):
    @extend_schema(
        request=PayoutBatchCreateSerializer,
        responses={201: PayoutBatchSerializer},
        description="Up to 1,000 payouts in one request, all checked first: if any item is "
        "refused (400 validation_error, each error's pointer names it, e.g. /items/17/msisdn) "
        "or the balance does not cover them all with their fees (402 insufficient_balance), "
        "nothing is created. Otherwise each item becomes a normal payout (a payment with "
        '"flow": "disbursement", its own webhooks), except an item whose external_id is '
        "already used: it is reported (status REJECTED, duplicate_of) and makes nothing. "
        "Retry with the same Idempotency-Key to get the same batch back.",
        examples=[
            OpenApiExample(
                "Two payouts",
                request_only=True,
                value={
                    "items": [
                        {
                            "external_id": "salary-2026-12-001",
                            "amount": "50.00",
                            "msisdn": "0961234567",
                        },
                        {
                            "external_id": "salary-2026-12-002",
                            "amount": "75.00",
                            "msisdn": "0971234567",
                            "provider": "airtel",
                            "description": "December salary",
                        },
                    ]
                },
            ),
            OpenApiExample("Created", response_only=True, value=_BATCH_EXAMPLE),
        ],
    )
    def post(self, request: Request) -> Response:
        caller = caller_of(request)
        payload = PayoutBatchCreateSerializer(data=request.data)
        if not payload.is_valid():
            raise ValidationFailed(errors=services.with_pointers(field_errors(payload.errors)))
        batch = services.create_payout_batch(
            tenant=caller.tenant,
            mode=caller.mode,
            currency=payload.validated_data["currency"],
            items=[services.BatchItem(**item) for item in payload.validated_data["items"]],
            actor=caller.actor,
        )
        return Response(batch_body(request, batch, self), status=status.HTTP_201_CREATED)


class PayoutBatchDetailView(APIView):
    pagination_class = ItemCursorPagination  # limit and cursor page through the items

    @extend_schema(
        responses=PayoutBatchSerializer,
        description="A batch of the key's account and mode (any other id is 404): its totals "
        "by status and its items in order, `limit` at a time (follow items.next).",
        examples=[OpenApiExample("A batch", response_only=True, value=_BATCH_EXAMPLE)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        batch = selectors.get_batch(tenant=caller.tenant, mode=caller.mode, public_id=public_id)
        return Response(batch_body(request, batch, self))


class PayoutBatchCancelView(APIView):
    @extend_schema(
        request=None,
        responses={200: PayoutBatchCancelSerializer},
        description="Cancel the batch's payouts that are still queued (next_action: queued, "
        "held back while their operator is unavailable): each becomes FAILED with failure_code "
        "cancelled and its reservation returns to the balance. Payouts already with their "
        "operator go on. 409 payout_batch_not_cancellable when none is queued.",
        examples=[
            OpenApiExample(
                "Cancelled",
                response_only=True,
                value={**_BATCH_EXAMPLE, "cancelled": 1},
            )
        ],
    )
    def post(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        batch = selectors.get_batch(tenant=caller.tenant, mode=caller.mode, public_id=public_id)
        cancelled = services.cancel_payout_batch(batch=batch, actor=caller.actor)
        batch.refresh_from_db()
        return Response({**batch_body(request, batch, self), "cancelled": cancelled})
