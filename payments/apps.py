from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from payments.metrics import PaymentsCollector

        REGISTRY.register(PaymentsCollector())
