from __future__ import annotations

from gateway.errors import GatewayError, ValidationFailed


class InvalidWebhookUrl(ValidationFailed):
    """The URL breaks the webhook URL policy (webhooks.outbound.ssrf); `errors` names `url`."""

    code = "invalid_webhook_url"
    title = "Webhooks can only be sent to public https URLs"
    remedy = (
        "Register a public https URL (no IP literals, private networks or credentials in the URL)."
    )


class WebhookEndpointNotFound(GatewayError):
    status = 404
    code = "webhook_endpoint_not_found"
    title = "No such webhook endpoint"
    remedy = "Check the endpoint id (we_…) and that the key is of its account and mode."
    retryable = False


class EventNotFound(GatewayError):
    status = 404
    code = "event_not_found"
    title = "No such event"
    remedy = "Check the event id (evt_…) and that the key is of its account and mode."
    retryable = False


class WebhookEndpointLimitReached(GatewayError):
    status = 409
    code = "webhook_endpoint_limit_reached"
    title = "The account has the most webhook endpoints allowed in this mode"
    remedy = "Delete an endpoint you no longer use, or send several event types to one endpoint."
    retryable = False


class WebhookEndpointDisabled(GatewayError):
    status = 409
    code = "webhook_endpoint_disabled"
    title = "The webhook endpoint is disabled; enable it first"
    remedy = 'Enable it first: PATCH the endpoint with {"enabled": true}.'
    retryable = False


class ReplayRangeTooLarge(GatewayError):
    status = 422
    code = "replay_range_too_large"
    title = "The time range holds too many events to replay at once"
    remedy = "Replay a shorter time range, in several requests."
    retryable = False


def invalid_url(message: str) -> InvalidWebhookUrl:
    return InvalidWebhookUrl(message, errors=[{"field": "url", "message": message}])
