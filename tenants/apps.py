from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        # Registers the API-key security scheme with drf-spectacular (import for side effect).
        from tenants import schema  # noqa: F401
