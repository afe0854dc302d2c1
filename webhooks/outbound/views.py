"""The merchant API of outbound webhooks: parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.views import PaymentCursorPagination
from tenants.authentication import caller_of
from webhooks.outbound import selectors, services
from webhooks.outbound.serializers import (
    DeliveryFilterSerializer,
    DeliverySerializer,
    EventDetailSerializer,
    EventFilterSerializer,
    EventSerializer,
    ReplaySerializer,
    ResendSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
    WebhookEndpointWithSecretSerializer,
)


def _event_fields() -> dict[str, Any]:
    # New field instances for each serializer: a DRF field binds to one parent only (shared
    # ones left EventWithDeliveries documented with nothing but its deliveries).
    return {
        "id": serializers.CharField(),
        "object": serializers.CharField(default="event"),
        "type": serializers.CharField(),
        "timestamp": serializers.DateTimeField(),
        "mode": serializers.CharField(),
        "data": serializers.DictField(
            help_text="The payment as GET /payments/{id} showed it then."
        ),
    }


_EVENTS = inline_serializer("Event", _event_fields(), many=True)
_EVENT_DETAIL = inline_serializer(
    "EventWithDeliveries", {**_event_fields(), "deliveries": DeliverySerializer(many=True)}
)


class _Pages(PaymentCursorPagination):
    """Newest first, the same cursors (and 400 invalid_cursor) as the payments list."""


def _list_of(name: str, item: Any) -> Any:
    return inline_serializer(
        name,
        {
            "object": serializers.CharField(default="list"),
            "data": item,
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
        },
    )


class WebhookEndpointListCreateView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "WebhookEndpointList",
            {
                "object": serializers.CharField(default="list"),
                "data": WebhookEndpointSerializer(many=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        endpoints = selectors.list_webhook_endpoints(tenant=caller.tenant, mode=caller.mode)
        return Response(
            {"object": "list", "data": WebhookEndpointSerializer(endpoints, many=True).data}
        )

    @extend_schema(
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
    )
    def post(self, request: Request) -> Response:
        """Register an endpoint; the answer holds its signing secret, shown only now."""
        caller = caller_of(request)
        payload = WebhookEndpointCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.check_url(payload.validated_data["url"])
        created = services.create_webhook_endpoint(
            tenant=caller.tenant, mode=caller.mode, actor=caller.actor, **payload.validated_data
        )
        body = {**WebhookEndpointSerializer(created.endpoint).data, "secret": created.secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(APIView):
    @extend_schema(responses=WebhookEndpointSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        endpoint = selectors.get_webhook_endpoint(
            tenant=caller.tenant, mode=caller.mode, public_id=public_id
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer)
    def patch(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        endpoint = selectors.get_webhook_endpoint(
            tenant=caller.tenant, mode=caller.mode, public_id=public_id
        )
        payload = WebhookEndpointUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if "url" in payload.validated_data:
            services.check_url(payload.validated_data["url"])
        endpoint = services.update_webhook_endpoint(
            endpoint=endpoint, actor=caller.actor, **payload.validated_data
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        responses={  # 200 with a body, not drf-spectacular's default 204 for a DELETE
            200: inline_serializer(
                "DeletedWebhookEndpoint",
                {
                    "id": serializers.CharField(),
                    "object": serializers.CharField(default="webhook_endpoint"),
                    "deleted": serializers.BooleanField(default=True),
                },
            )
        }
    )
    def delete(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        endpoint = selectors.get_webhook_endpoint(
            tenant=caller.tenant, mode=caller.mode, public_id=public_id
        )
        services.delete_webhook_endpoint(endpoint=endpoint, actor=caller.actor)
        return Response({"id": public_id, "object": "webhook_endpoint", "deleted": True})


class WebhookEndpointRotateSecretView(APIView):
    @extend_schema(request=None, responses=WebhookEndpointWithSecretSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        """A new secret; the old one keeps signing beside it for
        WEBHOOK_SECRET_ROTATION_GRACE_HOURS (two v1 signatures per delivery)."""
        caller = caller_of(request)
        endpoint = selectors.get_webhook_endpoint(
            tenant=caller.tenant, mode=caller.mode, public_id=public_id
        )
        rotated = services.rotate_webhook_secret(endpoint=endpoint, actor=caller.actor)
        body = {**WebhookEndpointSerializer(rotated.endpoint).data, "secret": rotated.secret}
        return Response(body)


class WebhookEndpointPingView(APIView):
    # The ping POSTs to the merchant while the request runs: no Idempotency-Key transaction
    # may be open around it (payments.middleware). A repeated ping is just another ping.
    calls_out_during_request = True

    @extend_schema(request=None, responses=DeliverySerializer)
    def post(self, request: Request, public_id: str) -> Response:
        """Send a signed `ping` event now and answer with the delivery's result."""
        caller = caller_of(request)
        endpoint = selectors.get_webhook_endpoint(
            tenant=caller.tenant, mode=caller.mode, public_id=public_id
        )
        delivery = services.ping_webhook_endpoint(endpoint=endpoint)
        return Response(DeliverySerializer(delivery).data)


class WebhookEndpointReplayView(APIView):
    @extend_schema(
        request=ReplaySerializer,
        responses={
            202: inline_serializer(
                "Replay",
                {
                    "object": serializers.CharField(default="replay"),
                    "webhook_endpoint": serializers.CharField(),
                    "events": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request: Request, public_id: str) -> Response:
        """Send every event of a time range to this endpoint again (oldest first)."""
        caller = caller_of(request)
        endpoint = selectors.get_webhook_endpoint(
            tenant=caller.tenant, mode=caller.mode, public_id=public_id
        )
        payload = ReplaySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        count = services.replay_events(endpoint=endpoint, **payload.validated_data)
        return Response(
            {"object": "replay", "webhook_endpoint": endpoint.public_id, "events": count},
            status=status.HTTP_202_ACCEPTED,
        )


class WebhookEndpointDeliveriesView(APIView):
    query_serializer = DeliveryFilterSerializer
    pagination_class = _Pages

    @extend_schema(
        responses=_list_of("DeliveryList", DeliverySerializer(many=True)),
    )
    def get(self, request: Request, public_id: str) -> Response:
        caller = caller_of(request)
        endpoint = selectors.get_webhook_endpoint(
            tenant=caller.tenant, mode=caller.mode, public_id=public_id
        )
        filters = DeliveryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        deliveries = selectors.list_endpoint_deliveries(endpoint=endpoint, **filters.validated_data)
        paginator = _Pages()
        page = paginator.paginate_queryset(deliveries, request, view=self)
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)


class EventListView(APIView):
    query_serializer = EventFilterSerializer
    pagination_class = _Pages

    @extend_schema(
        responses=_list_of("EventList", _EVENTS),
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        filters = EventFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = selectors.list_events(
            tenant=caller.tenant, mode=caller.mode, **filters.validated_data
        )
        paginator = _Pages()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response([EventSerializer(e).data for e in page or []])


class EventDetailView(APIView):
    @extend_schema(responses=_EVENT_DETAIL)
    def get(self, request: Request, public_id: str) -> Response:
        """The event as it was sent, with its deliveries."""
        caller = caller_of(request)
        event = selectors.get_event(tenant=caller.tenant, mode=caller.mode, public_id=public_id)
        return Response(EventDetailSerializer(event).data)


class EventResendView(APIView):
    @extend_schema(
        request=ResendSerializer,
        responses={
            202: inline_serializer(
                "Resend",
                {
                    "object": serializers.CharField(default="list"),
                    "data": DeliverySerializer(many=True),
                },
            )
        },
    )
    def post(self, request: Request, public_id: str) -> Response:
        """Attempt the event's deliveries again now, with the same webhook-id."""
        caller = caller_of(request)
        event = selectors.get_event(tenant=caller.tenant, mode=caller.mode, public_id=public_id)
        payload = ResendSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        endpoint = None
        if "webhook_endpoint" in payload.validated_data:
            endpoint = selectors.get_webhook_endpoint(
                tenant=caller.tenant,
                mode=caller.mode,
                public_id=payload.validated_data["webhook_endpoint"],
            )
        services.resend_event(event=event, endpoint=endpoint)
        event = selectors.get_event(tenant=caller.tenant, mode=caller.mode, public_id=public_id)
        deliveries = [
            d for d in event.deliveries.all() if endpoint is None or d.endpoint_id == endpoint.pk
        ]
        return Response(
            {"object": "list", "data": DeliverySerializer(deliveries, many=True).data},
            status=status.HTTP_202_ACCEPTED,
        )
