"""Airtel Africa Open API routes, relative to the simulator's base URL (…/sandbox/airtel/)."""

from django.urls import URLPattern, path, re_path

from providers.sandbox.airtel import views

urlpatterns: list[URLPattern] = [
    path("auth/oauth2/token", views.token),
    path("v1/rsa/encryption-keys", views.encryption_keys),
    re_path(r"^merchant/v1/payments/?$", views.collect_v1),
    re_path(r"^merchant/v2/payments/?$", views.collect_v2),
    re_path(r"^standard/(?P<version>v1|v2)/payments/refund/?$", views.refund),
    path("standard/v1/payments/<str:transaction_id>", views.collection_enquiry),
    re_path(r"^standard/v1/disbursements/?$", views.disburse_v1),
    re_path(r"^standard/v2/disbursements/?$", views.disburse_v2),
    re_path(
        r"^standard/(?P<version>v1|v2)/disbursements/(?P<transaction_id>[^/]+)$",
        views.disbursement_enquiry,
    ),
    path("standard/v1/users/balance", views.balance),
    path("standard/v1/users/<str:msisdn>", views.user),
    re_path(r"^", views.route_not_found),
]
