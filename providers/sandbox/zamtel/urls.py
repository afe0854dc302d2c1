"""Routes of our assumed Zamtel contract, relative to the simulator's base URL
(…/sandbox/zamtel/)."""

from django.urls import URLPattern, path, re_path

from providers.sandbox.zamtel import views

urlpatterns: list[URLPattern] = [
    path("v2/deposits", views.deposits),
    path("v2/deposits/<str:transaction_id>", views.deposit_status),
    path("v2/payouts", views.payouts),
    path("v2/payouts/<str:transaction_id>", views.payout_status),
    path("v2/refunds", views.refunds),
    path("v2/refunds/<str:transaction_id>", views.refund_status),
    path("v2/wallet-balances", views.wallet_balances),
    path("v2/accounts/<str:msisdn>", views.account),
    re_path(r"^", views.not_found),
]
