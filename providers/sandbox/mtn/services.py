"""Writes of the MTN simulator: provisioning, tokens, accepted requests, callback deliveries."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from procrastinate.contrib.django import app

from gateway.db import ensure_outside_transaction
from providers.sandbox import chaos
from providers.sandbox.mtn import bodies, errors, parsing, scenarios, selectors
from providers.sandbox.mtn.models import (
    MtnAccessToken,
    MtnApiUser,
    MtnCallbackAttempt,
    MtnConsent,
    MtnKind,
    MtnProduct,
    MtnRejectedAttempt,
    MtnStatus,
    MtnTransaction,
)

logger = logging.getLogger(__name__)

# MTN's callback client: observed User-Agent; its later docs give a 2 s timeout per attempt.
CALLBACK_USER_AGENT = "LWAC Http Client 1.0"
CALLBACK_TIMEOUT = (2.0, 2.0)
CALLBACK_TASK = "sandbox.deliver_mtn_callback"
# OpenID CIBA's grant type, as MTN's oauth2 token endpoint takes it.
CIBA_GRANT_TYPE = "urn:openid:params:grant-type:ciba"
# How often a CIBA client may poll the token endpoint (seconds), and how long a consent
# request and a consent token's refresh token last.
CONSENT_POLL_INTERVAL = 5
CONSENT_TTL = timedelta(hours=1)
REFRESH_TOKEN_TTL = timedelta(days=30)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@transaction.atomic
def create_api_user(*, user_id: uuid.UUID, provider_callback_host: str) -> MtnApiUser:
    if selectors.is_preprovisioned(user_id):
        raise errors.ResourceAlreadyExist()
    user = MtnApiUser(
        id=user_id, provider_callback_host=provider_callback_host, created_at=timezone.now()
    )
    user.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            # force_insert: a reused id must fail, not overwrite the first user.
            user.save(force_insert=True)
    except IntegrityError:
        raise errors.ResourceAlreadyExist() from None
    return user


@transaction.atomic
def create_api_key(*, user_id: str) -> str:
    """A new API key for a provisioned user; it replaces the previous one."""
    user = selectors.get_provisioned_user(user_id=user_id)
    api_key = secrets.token_hex(16)
    MtnApiUser.objects.filter(pk=user.pk).update(api_key_hash=selectors.hash_secret(api_key))
    return api_key


def _jwt_like(*, user_id: uuid.UUID, expires: str) -> str:
    # Shaped like MTN's tokens (a JWT with clientId, expires, sessionId); the signature part
    # is random, so the whole token is a secret only its hash identifies.
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header = part({"typ": "JWT", "alg": "R256"})
    claims = part({"clientId": str(user_id), "expires": expires, "sessionId": str(uuid.uuid4())})
    return f"{header}.{claims}.{secrets.token_urlsafe(64)}"


@transaction.atomic
def issue_access_token(
    *, user: selectors.ApiUser, product: MtnProduct, subject: str = "", scope: str = ""
) -> IssuedToken:
    """A product token, or with `subject` a consent token for that holder's userinfo."""
    ttl = settings.MTN_SIMULATOR_TOKEN_TTL_SECONDS
    now = timezone.now()
    expires_at = now + timedelta(seconds=ttl)
    token = _jwt_like(user_id=user.id, expires=expires_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3])
    MtnAccessToken.objects.create(
        token_hash=selectors.hash_secret(token),
        api_user_id=user.id,
        product=product,
        subject=subject,
        scope=scope,
        created_at=now,
        expires_at=expires_at,
    )
    return IssuedToken(access_token=token, expires_in=ttl)


@transaction.atomic
def request_consent(
    *,
    user: selectors.ApiUser,
    product: MtnProduct,
    environment: str,
    request: parsing.ConsentRequest,
    callback_url: str,
) -> MtnConsent:
    """Store a CIBA consent request; the sandbox holder answers it after the callback delay
    (approving, unless the number is one that declines)."""
    holder = scenarios.for_holder(request.msisdn)
    if holder.error is not None:
        raise holder.error()
    if not holder.found:
        # OpenID CIBA §13: the hint names nobody the provider knows.
        raise errors.OAuthError("unknown_user_id", "login_hint names no account holder.")
    now = timezone.now()
    return MtnConsent.objects.create(
        auth_req_id=uuid.uuid4(),
        api_user_id=user.id,
        product=product,
        target_environment=environment,
        msisdn=request.msisdn,
        scope=request.scope,
        access_type=request.access_type,
        callback_url=callback_url,
        approved=holder.active and holder.consents,
        decided_at=now + timedelta(seconds=settings.MTN_SIMULATOR_CALLBACK_DELAY_SECONDS),
        expires_at=now + CONSENT_TTL,
        created_at=now,
    )


@dataclass(frozen=True)
class ConsentToken:
    issued: IssuedToken
    scope: str
    refresh_token: str  # "" for an online consent


def redeem_consent(
    *, user: selectors.ApiUser, product: MtnProduct, auth_req_id: str
) -> ConsentToken:
    """Exchange an answered consent request for a token, once (OpenID CIBA §10-11 errors)."""
    consent = selectors.get_consent(auth_req_id=auth_req_id, user=user, product=product)
    now = timezone.now()
    if now >= consent.expires_at:
        raise errors.OAuthError("expired_token", "The consent request has expired.")
    if now < consent.decided_at:
        raise errors.OAuthError("authorization_pending", "The holder has not answered yet.")
    if not consent.approved:
        raise errors.OAuthError("access_denied", "The holder declined the consent request.")
    with transaction.atomic():
        # A conditional update: of two concurrent redemptions exactly one gets the token.
        redeemed = MtnConsent.objects.filter(pk=consent.pk, redeemed_at__isnull=True).update(
            redeemed_at=now
        )
        if not redeemed:
            raise errors.OAuthError("invalid_grant", "auth_req_id was already used.")
        issued = issue_access_token(
            user=user, product=product, subject=consent.msisdn, scope=consent.scope
        )
    refresh = secrets.token_urlsafe(32) if consent.access_type == "offline" else ""
    return ConsentToken(issued=issued, scope=consent.scope, refresh_token=refresh)


@transaction.atomic
def record_delivery_notification(
    *, row: MtnTransaction, notification: parsing.DeliveryNotification
) -> None:
    locked = MtnTransaction.objects.select_for_update().get(pk=row.pk)
    locked.notifications = [
        *locked.notifications,
        {
            "message": notification.message,
            "language": notification.language,
            "created_at": timezone.now().isoformat(),
        },
    ]
    locked.save(update_fields=["notifications"])


def _financial_transaction_id() -> str:
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))


def _scenario_of(
    *, kind: MtnKind, request: parsing.MoneyRequest, user: selectors.ApiUser
) -> tuple[scenarios.Scenario, parsing.Party | None]:
    """The scenario, and for a refund the payee (the original payer)."""
    if kind != MtnKind.REFUND:
        party = request.party
        if party is None or party.id_type != parsing.PartyIdType.MSISDN:
            return scenarios.SUCCESS, party
        return scenarios.for_party(kind=kind, party_id=party.id), party
    sandbox_value = scenarios.for_refund_value(request.reference_id_to_refund)
    if sandbox_value is not None:
        return sandbox_value, None
    try:
        original = selectors.get_transaction(
            product=MtnProduct.COLLECTION,
            kind=MtnKind.REQUEST_TO_PAY,
            reference_id=request.reference_id_to_refund,
            user=user,
        )
    except errors.ResourceNotFound:
        return scenarios.REFUND_ORIGINAL_NOT_FOUND, None
    party = parsing.Party(id_type=original.party_id_type, id=original.party_id)
    # Refunds and requests to pay always carry an amount (only pre-approvals have none).
    assert request.amount is not None and original.amount is not None  # noqa: S101
    if (
        original.status_at(timezone.now()) != MtnStatus.SUCCESSFUL
        or request.amount > original.amount
        or request.currency != original.currency
    ):
        return scenarios.REFUND_NOT_ALLOWED, party
    if party.id_type != parsing.PartyIdType.MSISDN:
        return scenarios.SUCCESS, party
    return scenarios.for_party(kind=MtnKind.REFUND, party_id=party.id), party


def _is_first_attempt(*, kind: MtnKind, reference_id: uuid.UUID) -> bool:
    with transaction.atomic():
        _, created = MtnRejectedAttempt.objects.get_or_create(
            kind=kind, reference_id=reference_id, defaults={"created_at": timezone.now()}
        )
    return created


def submit_transaction(
    *,
    user: selectors.ApiUser,
    environment: str,
    product: MtnProduct,
    kind: MtnKind,
    version: str,
    reference_id: uuid.UUID,
    request: parsing.MoneyRequest,
    callback_url: str,
) -> tuple[MtnTransaction, scenarios.Scenario]:
    """Accept a money-moving request: store it with its plan, and defer its callbacks.

    Raises ServiceUnavailable or InternalProcessingError for the numbers that simulate an
    outage (nothing stored), ResourceAlreadyExist for a reused reference.
    """
    scenario, party = _scenario_of(kind=kind, request=request, user=user)
    scenario = chaos.disturb(
        scenario,
        operator="mtn",
        reference=str(reference_id),
        answers=scenarios.Answer,
        slow_seconds=settings.MTN_SIMULATOR_SLOW_SECONDS,
    )
    if scenario.answer is scenarios.Answer.UNAVAILABLE:
        raise errors.ServiceUnavailable()
    if scenario.answer is scenarios.Answer.FAIL_FIRST_ATTEMPT and _is_first_attempt(
        kind=kind, reference_id=reference_id
    ):
        # Committed above, so the retry (same reference) is accepted even from another process.
        raise errors.InternalProcessingError()
    now = timezone.now()
    plan = scenarios.plan(scenario, now=now)
    row = MtnTransaction(
        product=product,
        kind=kind,
        version=version,
        reference_id=reference_id,
        api_user_id=user.id,
        target_environment=environment,
        amount=request.amount,
        currency=request.currency,
        external_id=request.external_id,
        party_id_type=party.id_type if party else "",
        party_id=party.id if party else "",
        payer_message=request.payer_message,
        payee_note=request.payee_note,
        reference_id_to_refund=request.reference_id_to_refund,
        callback_url=callback_url,
        details=request.details,
        scenario=scenario.name,
        pending_status=scenario.pending_status,
        final_status=scenario.final_status or "",
        reason=scenario.reason,
        outcome_at=plan.outcome_at,
        callback_status=scenario.callback_status or "",
        financial_transaction_id=_financial_transaction_id(),
        created_at=now,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            if callback_url:
                for delay in plan.callback_delays:
                    # In the transaction that stores the request: both commit, or neither.
                    _defer_callback(transaction_id=row.pk, attempt=1, seconds=delay.total_seconds())
    except IntegrityError:
        # A concurrent or earlier POST with this X-Reference-Id won the unique constraint.
        raise errors.ResourceAlreadyExist() from None
    return row, scenario


def _defer_callback(*, transaction_id: int, attempt: int, seconds: float) -> None:
    app.configure_task(
        CALLBACK_TASK, allow_unknown=False, schedule_in={"milliseconds": int(seconds * 1000)}
    ).defer(transaction_id=transaction_id, attempt=attempt)


def callback_method(row: MtnTransaction) -> str:
    """MTN's callback page: a v1_0 request is called back with POST, a v2_0 one with PUT."""
    return "PUT" if row.version == "v2_0" else "POST"


def deliver_callback(*, transaction_id: int, attempt: int = 1) -> MtnCallbackAttempt:
    """Send the callback once and log the attempt; an undelivered one (no answer, or not
    2xx) is tried again after MTN_SIMULATOR_CALLBACK_RETRY_SECONDS[attempt - 1], while the
    schedule lasts."""
    ensure_outside_transaction()  # no row locks held during the HTTP call
    row = MtnTransaction.objects.get(pk=transaction_id)
    body = bodies.callback_body(row)
    method = callback_method(row)
    status_code: int | None = None
    error = ""
    started = time.perf_counter()
    try:
        response = requests.request(
            method,
            row.callback_url,
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "User-Agent": CALLBACK_USER_AGENT},
            timeout=CALLBACK_TIMEOUT,
            allow_redirects=False,
        )
        status_code = response.status_code
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = round((time.perf_counter() - started) * 1000)
    schedule = settings.MTN_SIMULATOR_CALLBACK_RETRY_SECONDS
    delivered = status_code is not None and 200 <= status_code < 300
    with transaction.atomic(durable=True):
        logged = MtnCallbackAttempt.objects.create(
            transaction=row,
            attempt=attempt,
            method=method,
            url=row.callback_url,
            body=body,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            created_at=timezone.now(),
        )
        if not delivered and attempt <= len(schedule):
            _defer_callback(
                transaction_id=row.pk, attempt=attempt + 1, seconds=schedule[attempt - 1]
            )
    logger.info(
        "mtn simulator callback sent",
        extra={
            "reference_id": str(row.reference_id),
            "status_code": status_code,
            "attempt": attempt,
        },
    )
    return logged
