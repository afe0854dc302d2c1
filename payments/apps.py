from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from prometheus_client import REGISTRY

        from payments import hooks, routes
        from payments.metrics import PaymentsCollector

        REGISTRY.register(PaymentsCollector())
        # A failed payment stops counting against its daily cap, in the transition's transaction.
        hooks.on_final(routes.release_daily_cap)
