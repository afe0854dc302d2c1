"""MTN MoMo Open API routes, relative to the simulator's base URL (…/sandbox/mtn/)."""

from django.urls import URLPattern, path, re_path

from providers.sandbox.mtn import views

PRODUCT = r"(?P<product>collection|disbursement)"
VERSION = r"(?P<version>v1_0|v2_0)"

urlpatterns: list[URLPattern] = [
    # Sandbox provisioning
    path("v1_0/apiuser", views.create_api_user),
    path("v1_0/apiuser/<str:user_id>/apikey", views.create_api_key),
    path("v1_0/apiuser/<str:user_id>", views.api_user),
    # Token (MTN's path ends with a slash; a caller that drops it is not redirected)
    re_path(rf"^{PRODUCT}/token/?$", views.create_access_token),
    # Collection
    path("collection/v1_0/requesttopay", views.request_to_pay),
    path("collection/v1_0/requesttopay/<str:reference_id>", views.request_to_pay_status),
    # Disbursement
    path("disbursement/v1_0/transfer", views.transfer),
    path("disbursement/v1_0/transfer/<str:reference_id>", views.transfer_status),
    re_path(rf"^disbursement/{VERSION}/deposit$", views.deposit),
    path("disbursement/v1_0/deposit/<str:reference_id>", views.deposit_status),
    re_path(rf"^disbursement/{VERSION}/refund$", views.refund),
    path("disbursement/v1_0/refund/<str:reference_id>", views.refund_status),
    # Both products
    re_path(rf"^{PRODUCT}/v1_0/account/balance$", views.balance),
    re_path(rf"^{PRODUCT}/v1_0/account/balance/(?P<currency>[^/]+)$", views.balance),
    re_path(
        rf"^{PRODUCT}/v1_0/accountholder/(?P<id_type>msisdn|email|party_code)"
        r"/(?P<party_id>[^/]+)/active$",
        views.account_holder_active,
    ),
    re_path(
        rf"^{PRODUCT}/v1_0/accountholder/msisdn/(?P<party_id>[^/]+)/basicuserinfo$",
        views.basic_user_info,
    ),
    # Anything else: API Management's 404, not the gateway's problem+json
    re_path(r"^", views.route_not_found),
]
