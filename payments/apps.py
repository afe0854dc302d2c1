from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from payments import hooks, metrics

        # Counted once the status change commits (a rolled-back transition counts nothing).
        hooks.on_final(metrics.count_finalized)
