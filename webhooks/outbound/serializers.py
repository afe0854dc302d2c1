from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from gateway import fields
from webhooks.outbound.models import (
    ALL_EVENTS,
    SUBSCRIBABLE_EVENTS,
    Delivery,
    DeliveryState,
    Event,
    EventType,
    WebhookEndpoint,
)

_EVENT_CHOICES = [ALL_EVENTS, *SUBSCRIBABLE_EVENTS]


class EnabledEventsField(serializers.ListField):
    child = serializers.ChoiceField(choices=_EVENT_CHOICES)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            min_length=1,
            max_length=len(_EVENT_CHOICES),
            help_text='Event types to send, or ["*"] for every type (the default).',
            **kwargs,
        )


class WebhookEndpointCreateSerializer(serializers.Serializer[dict[str, Any]]):
    url = fields.StrictCharField(help_text="https only; a public host; at most 2048 characters.")
    enabled_events = EnabledEventsField(required=False)
    description = fields.StrictCharField(max_length=160, required=False, allow_blank=True)


class WebhookEndpointUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    url = fields.StrictCharField(required=False)
    enabled_events = EnabledEventsField(required=False)
    description = fields.StrictCharField(max_length=160, required=False, allow_blank=True)
    disabled = fields.StrictBooleanField(
        required=False, help_text="true stops deliveries; false enables again."
    )


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    disabled_reason = serializers.SerializerMethodField()
    secret_rotation_ends_at = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "object",
            "url",
            "enabled_events",
            "description",
            "mode",
            "status",
            "disabled_reason",
            "disabled_at",
            "last_success_at",
            "last_failure_at",
            "consecutive_failures",
            "secret_rotation_ends_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_object(self, endpoint: WebhookEndpoint) -> str:
        return "webhook_endpoint"

    def get_status(self, endpoint: WebhookEndpoint) -> str:
        return "enabled" if endpoint.is_enabled else "disabled"

    def get_disabled_reason(self, endpoint: WebhookEndpoint) -> str | None:
        return endpoint.disabled_reason or None

    def get_secret_rotation_ends_at(self, endpoint: WebhookEndpoint) -> str | None:
        """While the previous secret still signs beside the current one."""
        ends = endpoint.previous_secret_expires_at
        return serializers.DateTimeField().to_representation(ends) if ends else None


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """Creation and rotation only: the one time the secret is shown."""

    secret = serializers.CharField(help_text="whsec_…: verify signatures with it; shown once.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    event = serializers.CharField(source="event.public_id")
    webhook_endpoint = serializers.CharField(source="endpoint.public_id")
    url = serializers.CharField(source="endpoint.url")
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "object",
            "event",
            "webhook_endpoint",
            "url",
            "state",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "succeeded_at",
            "last_status",
            "last_error",
            "response_excerpt",
            "duration_ms",
            "created_at",
        ]
        read_only_fields = fields

    def get_object(self, delivery: Delivery) -> str:
        return "delivery"

    def get_last_error(self, delivery: Delivery) -> str | None:
        return delivery.last_error or None


class EventSerializer(serializers.BaseSerializer[Event]):
    """Exactly what was sent: the stored body (`id`, `type`, `timestamp`, `mode`, `data`)."""

    def to_representation(self, event: Event) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(event.body)
        return body


class EventDetailSerializer(EventSerializer):
    def to_representation(self, event: Event) -> dict[str, Any]:
        body = super().to_representation(event)
        body["deliveries"] = DeliverySerializer(event.deliveries.all(), many=True).data
        return body


class EventFilterSerializer(serializers.Serializer[dict[str, Any]]):
    type = serializers.ChoiceField(choices=EventType.choices, required=False)
    payment = serializers.RegexField(r"^pay_[A-Za-z0-9]{24}$", required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class DeliveryFilterSerializer(serializers.Serializer[dict[str, Any]]):
    state = serializers.ChoiceField(choices=DeliveryState.choices, required=False)


class ResendSerializer(serializers.Serializer[dict[str, Any]]):
    webhook_endpoint = serializers.RegexField(
        r"^we_[A-Za-z0-9]{24}$",
        required=False,
        help_text="Only to this endpoint (default: every endpoint the event went to).",
    )


class ReplaySerializer(serializers.Serializer[dict[str, Any]]):
    created_after = serializers.DateTimeField(help_text="Events created at or after this.")
    created_before = serializers.DateTimeField(
        help_text="Events created before this; later than created_after."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["created_after"] >= attrs["created_before"]:
            raise serializers.ValidationError(
                {"created_before": ["Must be later than created_after."]}
            )
        return attrs
