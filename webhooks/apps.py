from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from payments import hooks
        from webhooks.outbound import services

        # The one writer of payment status records the merchant's event in its transaction.
        hooks.on_final(services.record_payment_event)
