from __future__ import annotations

from gateway.errors import GatewayError, ValidationFailed


class InvalidWebhookUrl(ValidationFailed):
    """The URL breaks the webhook URL policy (webhooks.outbound.ssrf); `errors` names `url`."""

    code = "invalid_webhook_url"
    title = "Webhooks can only be sent to public https URLs"


class WebhookEndpointNotFound(GatewayError):
    status = 404
    code = "webhook_endpoint_not_found"
    title = "No such webhook endpoint"
    retryable = False


class EventNotFound(GatewayError):
    status = 404
    code = "event_not_found"
    title = "No such event"
    retryable = False


class WebhookEndpointLimitReached(GatewayError):
    status = 409
    code = "webhook_endpoint_limit_reached"
    title = "The account has the most webhook endpoints allowed in this mode"
    retryable = False


class WebhookEndpointDisabled(GatewayError):
    status = 409
    code = "webhook_endpoint_disabled"
    title = "The webhook endpoint is disabled; enable it first"
    retryable = False


class ReplayRangeTooLarge(GatewayError):
    status = 422
    code = "replay_range_too_large"
    title = "The time range holds too many events to replay at once"
    retryable = False


def invalid_url(message: str) -> InvalidWebhookUrl:
    return InvalidWebhookUrl(message, errors=[{"field": "url", "message": message}])
