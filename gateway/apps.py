from django.apps import AppConfig
from django.conf import settings
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
            from gateway import tracing

            tracing.configure(service_name=settings.OTEL_SERVICE_NAME)


class StaffTOTPConfig(TOTPConfig):  # type: ignore[misc]  # django-otp ships no type hints
    """django-otp's TOTP devices, named for what they are here in the admin's sidebar."""

    verbose_name = "Staff second factor"
