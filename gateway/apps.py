from django.apps import AppConfig
from django.conf import settings


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
            from gateway import tracing

            tracing.configure(service_name=settings.OTEL_SERVICE_NAME)
