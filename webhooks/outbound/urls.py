from django.urls import path, register_converter

from webhooks.outbound import views


class _PublicId:
    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class EndpointIdConverter(_PublicId):
    """`we_` and 24 base62 characters: anything else is a plain 404."""

    regex = "we_[A-Za-z0-9]{24}"


class EventIdConverter(_PublicId):
    regex = "evt_[A-Za-z0-9]{24}"


register_converter(EndpointIdConverter, "webhook_endpoint_id")
register_converter(EventIdConverter, "event_id")

urlpatterns = [
    path(
        "webhook-endpoints",
        views.WebhookEndpointListCreateView.as_view(),
        name="webhook-endpoint-list",
    ),
    path(
        "webhook-endpoints/<webhook_endpoint_id:public_id>",
        views.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<webhook_endpoint_id:public_id>/rotate-secret",
        views.WebhookEndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<webhook_endpoint_id:public_id>/ping",
        views.WebhookEndpointPingView.as_view(),
        name="webhook-endpoint-ping",
    ),
    path(
        "webhook-endpoints/<webhook_endpoint_id:public_id>/replay",
        views.WebhookEndpointReplayView.as_view(),
        name="webhook-endpoint-replay",
    ),
    path(
        "webhook-endpoints/<webhook_endpoint_id:public_id>/deliveries",
        views.WebhookEndpointDeliveriesView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path("events", views.EventListView.as_view(), name="event-list"),
    path("events/<event_id:public_id>", views.EventDetailView.as_view(), name="event-detail"),
    path(
        "events/<event_id:public_id>/resend",
        views.EventResendView.as_view(),
        name="event-resend",
    ),
]
