from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self) -> None:
        from payments import hooks, metrics, routes

        # Counted once the status change commits (a rolled-back transition counts nothing).
        hooks.on_final(metrics.count_finalized)
        # A failed payment stops counting against its daily cap, in the transition's transaction.
        hooks.on_final(routes.release_daily_cap)
