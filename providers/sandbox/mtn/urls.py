"""MTN MoMo Open API routes, relative to the simulator's base URL (…/sandbox/mtn/).

Every path a client of MTN's three products calls; the README lists them.
"""

from django.urls import URLPattern, re_path

from providers.sandbox.mtn import views
from providers.sandbox.mtn.models import MtnKind

PRODUCT = r"(?P<product>collection|disbursement|remittance)"
PAYOUT_PRODUCT = r"(?P<product>disbursement|remittance)"
VERSION = r"(?P<version>v1_0|v2_0)"
REFERENCE = r"(?P<reference_id>[^/]+)"
# The account-holder id type in any case: MTN's reference spells it in lower case, some
# clients send MSISDN.
ID_TYPE = r"(?P<id_type>(?i:msisdn|email|party_code))"


def _kind(kind: str, *, versions: str = VERSION) -> list[URLPattern]:
    """POST /{product}/{version}/{kind} and its status GET /{product}/{version}/{kind}/{id}."""
    product = views.KINDS[MtnKind(kind)][0]
    base = rf"^{product}/{versions}/(?P<kind>{kind})"
    return [
        re_path(rf"{base}$", views.submit),
        re_path(rf"{base}/{REFERENCE}$", views.status),
    ]


urlpatterns: list[URLPattern] = [
    # Sandbox provisioning (any product's subscription key)
    re_path(r"^v1_0/apiuser$", views.create_api_user),
    re_path(r"^v1_0/apiuser/(?P<user_id>[^/]+)/apikey$", views.create_api_key),
    re_path(r"^v1_0/apiuser/(?P<user_id>[^/]+)$", views.api_user),
    # Tokens (MTN's path ends with a slash; a caller that drops it is not redirected)
    re_path(rf"^{PRODUCT}/token/?$", views.create_access_token),
    # Consent (CIBA)
    re_path(rf"^{PRODUCT}/v1_0/bc-authorize$", views.bc_authorize),
    re_path(rf"^{PRODUCT}/oauth2/token/?$", views.create_oauth2_token),
    re_path(rf"^{PRODUCT}/oauth2/v1_0/userinfo$", views.user_info_with_consent),
    # Collection
    re_path(
        rf"^collection/v1_0/requesttopay/{REFERENCE}/deliverynotification$",
        views.delivery_notification,
    ),
    *_kind("requesttopay", versions=r"(?P<version>v1_0)"),
    *_kind("requesttowithdraw"),
    *_kind("preapproval"),
    *_kind("invoice", versions=r"(?P<version>v2_0)"),
    *_kind("payment", versions=r"(?P<version>v2_0)"),
    # Disbursement and remittance
    re_path(rf"^{PAYOUT_PRODUCT}/v1_0/transfer$", views.transfer),
    re_path(rf"^{PAYOUT_PRODUCT}/v1_0/transfer/{REFERENCE}$", views.transfer_status),
    *_kind("deposit"),
    *_kind("refund"),
    *_kind("cashtransfer", versions=r"(?P<version>v2_0)"),
    # Every product
    re_path(rf"^{PRODUCT}/v1_0/account/balance$", views.balance),
    re_path(rf"^{PRODUCT}/v1_0/account/balance/(?P<currency>[^/]+)$", views.balance),
    re_path(
        rf"^{PRODUCT}/v1_0/accountholder/{ID_TYPE}/(?P<party_id>[^/]+)/active$",
        views.account_holder_active,
    ),
    re_path(
        rf"^{PRODUCT}/v1_0/accountholder/(?P<id_type>(?i:msisdn))/(?P<party_id>[^/]+)"
        r"/basicuserinfo$",
        views.basic_user_info,
    ),
    # Anything else: API Management's 404, not the gateway's problem+json
    re_path(r"^", views.route_not_found),
]
