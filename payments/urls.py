from django.urls import path, register_converter

from payments import views


class PaymentIdConverter:
    """`pay_` and 24 base62 characters (models.new_public_id): anything else is a plain 404."""

    regex = "pay_[A-Za-z0-9]{24}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class MsisdnConverter:
    """The characters a phone number may be spelled with (routing.normalize_msisdn)."""

    regex = r"[0-9+() \-]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PaymentIdConverter, "payment_id")
register_converter(MsisdnConverter, "msisdn")

urlpatterns = [
    path("payments", views.PaymentListCreateView.as_view(), name="payment-list"),
    path(
        "payments/<payment_id:public_id>", views.PaymentDetailView.as_view(), name="payment-detail"
    ),
    path(
        "payments/<payment_id:public_id>/refund",
        views.PaymentRefundView.as_view(),
        name="payment-refund",
    ),
    path(
        "payments/<payment_id:public_id>/cancel",
        views.PaymentCancelView.as_view(),
        name="payment-cancel",
    ),
    path("providers", views.OperatorListView.as_view(), name="provider-list"),
    path("accounts/<msisdn:msisdn>", views.AccountView.as_view(), name="account"),
    path("balance", views.BalanceView.as_view(), name="balance"),
    path(
        "balance-transactions",
        views.BalanceTransactionListView.as_view(),
        name="balance-transaction-list",
    ),
    path("test/top-ups", views.TestTopUpView.as_view(), name="test-top-up"),
]
