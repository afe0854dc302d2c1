"""Reads of the simulator's state: API users, tokens, transactions, balances."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Sum
from django.utils import timezone

from providers.sandbox.mtn import errors, parsing
from providers.sandbox.mtn.models import (
    MtnAccessToken,
    MtnApiUser,
    MtnConsent,
    MtnKind,
    MtnProduct,
    MtnStatus,
    MtnTransaction,
)

SANDBOX = "sandbox"
# Every account starts with this much, so balances move visibly with settled transactions.
OPENING_BALANCE = Decimal("1000000.00")


@dataclass(frozen=True)
class ApiUser:
    id: uuid.UUID
    callback_host: str
    # Made through the sandbox provisioning API: such a user exists only in MTN's sandbox.
    provisioned: bool

    @property
    def target_environments(self) -> frozenset[str]:
        if self.provisioned:
            return frozenset({SANDBOX})
        return frozenset(parsing.CURRENCY_BY_ENVIRONMENT)


def hash_secret(secret: str) -> str:
    # API keys and tokens are long random strings: a plain digest cannot be brute-forced.
    return hashlib.sha256(secret.encode()).hexdigest()


def _preprovisioned_users() -> dict[uuid.UUID, str]:
    """settings.MTN_SIMULATOR_USERS as {user id: API key hash}."""
    users = {}
    for entry in settings.MTN_SIMULATOR_USERS:
        user_id, _, api_key = entry.partition(":")
        try:
            users[uuid.UUID(user_id)] = hash_secret(api_key)
        except ValueError:
            raise ImproperlyConfigured(
                "MTN_SIMULATOR_USERS entries must look like <uuid>:<api-key>"
            ) from None
    return users


def is_preprovisioned(user_id: uuid.UUID) -> bool:
    return user_id in _preprovisioned_users()


def _preprovisioned_user(user_id: uuid.UUID) -> ApiUser:
    return ApiUser(
        id=user_id, callback_host=settings.MTN["test"]["CALLBACK_HOST"], provisioned=False
    )


def get_api_user(*, user_id: uuid.UUID) -> ApiUser:
    if user_id in _preprovisioned_users():
        return _preprovisioned_user(user_id)
    row = MtnApiUser.objects.filter(pk=user_id).first()
    if row is None:
        raise errors.ResourceNotFound()
    return ApiUser(id=row.id, callback_host=row.provider_callback_host, provisioned=True)


def get_provisioned_user(*, user_id: str) -> MtnApiUser:
    """A user of the sandbox provisioning API (pre-provisioned users are not visible there)."""
    try:
        parsed = uuid.UUID(user_id)
    except ValueError:
        raise errors.ResourceNotFound() from None
    row = MtnApiUser.objects.filter(pk=parsed).first()
    if row is None:
        raise errors.ResourceNotFound()
    return row


def authenticate_api_key(*, user_id: str, api_key: str) -> ApiUser:
    try:
        parsed = uuid.UUID(user_id)
    except ValueError:
        raise errors.LoginFailed() from None
    expected = _preprovisioned_users().get(parsed)
    provisioned = expected is None
    if provisioned:
        row = MtnApiUser.objects.filter(pk=parsed).exclude(api_key_hash="").first()
        expected = row.api_key_hash if row else None
    if expected is None or not hmac.compare_digest(expected, hash_secret(api_key)):
        raise errors.LoginFailed()
    if provisioned:
        return get_api_user(user_id=parsed)
    return _preprovisioned_user(parsed)


def _token_row(*, token: str, product: MtnProduct, consent: bool) -> MtnAccessToken:
    rows = MtnAccessToken.objects.filter(
        token_hash=hash_secret(token), product=product, expires_at__gt=timezone.now()
    )
    row = (rows.exclude(subject="") if consent else rows.filter(subject="")).first()
    if row is None:
        raise errors.InvalidAccessToken()
    return row


def _user_of(row: MtnAccessToken) -> ApiUser:
    try:
        return get_api_user(user_id=row.api_user_id)
    except errors.ResourceNotFound:
        raise errors.InvalidAccessToken() from None  # the user left MTN_SIMULATOR_USERS


def authenticate_token(*, token: str, product: MtnProduct) -> ApiUser:
    """The user of an unexpired product token issued for `product`, else 401 (a consent
    token opens only userinfo)."""
    return _user_of(_token_row(token=token, product=product, consent=False))


def authenticate_consent_token(*, token: str, product: MtnProduct) -> MtnAccessToken:
    """An unexpired consent token of `product` (its `subject` is the consenting MSISDN)."""
    row = _token_row(token=token, product=product, consent=True)
    _user_of(row)
    return row


def get_transaction(
    *, product: MtnProduct, kind: MtnKind, reference_id: str, user: ApiUser
) -> MtnTransaction:
    """A caller sees only its own transactions; anything else is a plain 404."""
    try:
        parsed = uuid.UUID(reference_id)
    except ValueError:
        raise errors.ResourceNotFound() from None
    row = MtnTransaction.objects.filter(
        product=product, kind=kind, reference_id=parsed, api_user_id=user.id
    ).first()
    if row is None:
        raise errors.ResourceNotFound()
    return row


def get_balance(*, user: ApiUser, product: MtnProduct, currency: str) -> Decimal:
    """The product's own account: opening balance plus settled collections (collection), or
    minus settled payouts (disbursement, remittance)."""
    settled = MtnTransaction.objects.filter(
        api_user_id=user.id,
        product=product,
        currency=currency,
        final_status=MtnStatus.SUCCESSFUL,
        outcome_at__lte=timezone.now(),
    )
    total = settled.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return OPENING_BALANCE + total if product == MtnProduct.COLLECTION else OPENING_BALANCE - total


# --- Credentials -----------------------------------------------------------------------------


def subscription_keys() -> dict[str, MtnProduct]:
    """settings.MTN_SIMULATOR_SUBSCRIPTION_KEYS as {key: its product}."""
    keys = {}
    for entry in settings.MTN_SIMULATOR_SUBSCRIPTION_KEYS:
        product, _, key = entry.partition(":")
        if product not in MtnProduct.values or not key:
            raise ImproperlyConfigured(
                "MTN_SIMULATOR_SUBSCRIPTION_KEYS entries must look like <product>:<key>, "
                "the product one of collection, disbursement, remittance"
            )
        keys[key] = MtnProduct(product)
    return keys


def product_of_key(key: str) -> MtnProduct | None:
    """The product whose subscription `key` is, compared in constant time; None if none."""
    found = None
    for candidate, product in subscription_keys().items():
        if hmac.compare_digest(key.encode(), candidate.encode()):
            found = product
    return found


@dataclass(frozen=True)
class Credentials:
    """What a developer needs to point an MTN client at the simulator."""

    subscription_keys: dict[str, list[str]]  # product -> keys
    api_users: list[tuple[str, str]]  # (API user id, API key), no provisioning needed
    target_environments: list[str]
    callback_host: str


def get_credentials() -> Credentials:
    keys: dict[str, list[str]] = {product: [] for product in MtnProduct.values}
    for key, product in subscription_keys().items():
        keys[product].append(key)
    users = []
    for entry in settings.MTN_SIMULATOR_USERS:
        user_id, _, api_key = entry.partition(":")
        users.append((user_id, api_key))
    return Credentials(
        subscription_keys=keys,
        api_users=users,
        target_environments=sorted(parsing.CURRENCY_BY_ENVIRONMENT),
        callback_host=settings.MTN["test"]["CALLBACK_HOST"],
    )


def get_consent(*, auth_req_id: str, user: ApiUser, product: MtnProduct) -> MtnConsent:
    """The caller's own consent request, else OAuth's invalid_grant."""
    try:
        parsed = uuid.UUID(auth_req_id)
    except ValueError:
        raise errors.OAuthError("invalid_grant", "auth_req_id is not known.") from None
    row = MtnConsent.objects.filter(
        auth_req_id=parsed, api_user_id=user.id, product=product
    ).first()
    if row is None:
        raise errors.OAuthError("invalid_grant", "auth_req_id is not known.")
    return row
