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
from providers.sandbox.models import (
    MtnAccessToken,
    MtnApiUser,
    MtnCallbackAttempt,
    MtnKind,
    MtnProduct,
    MtnRejectedAttempt,
    MtnStatus,
    MtnTransaction,
)
from providers.sandbox.mtn import bodies, errors, parsing, scenarios, selectors

logger = logging.getLogger(__name__)

# MTN's callback client: observed User-Agent; its later docs give a 2 s timeout per attempt.
CALLBACK_USER_AGENT = "LWAC Http Client 1.0"
CALLBACK_TIMEOUT = (2.0, 2.0)


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
def issue_access_token(*, user: selectors.ApiUser, product: MtnProduct) -> IssuedToken:
    ttl = settings.MTN_SIMULATOR_TOKEN_TTL_SECONDS
    now = timezone.now()
    expires_at = now + timedelta(seconds=ttl)
    token = _jwt_like(user_id=user.id, expires=expires_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3])
    MtnAccessToken.objects.create(
        token_hash=selectors.hash_secret(token),
        api_user_id=user.id,
        product=product,
        created_at=now,
        expires_at=expires_at,
    )
    return IssuedToken(access_token=token, expires_in=ttl)


def _financial_transaction_id() -> str:
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))


def _scenario_of(
    *, kind: MtnKind, request: parsing.MoneyRequest, user: selectors.ApiUser
) -> tuple[scenarios.Scenario, parsing.Party | None]:
    """The scenario, and for a refund the payee (the original payer)."""
    if kind != MtnKind.REFUND:
        assert request.party is not None  # noqa: S101  # parsing requires it for these kinds
        party = request.party
        if party.id_type != parsing.PartyIdType.MSISDN:
            return scenarios.SUCCESS, party
        return scenarios.for_party(kind=kind, party_id=party.id), party
    sandbox_value = scenarios.for_refund_value(request.reference_id_to_refund)
    if sandbox_value is not None:
        return sandbox_value, None
    try:
        original = selectors.get_transaction(
            kind=MtnKind.REQUEST_TO_PAY, reference_id=request.reference_id_to_refund, user=user
        )
    except errors.ResourceNotFound:
        return scenarios.REFUND_ORIGINAL_NOT_FOUND, None
    party = parsing.Party(id_type=original.party_id_type, id=original.party_id)
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
    kind: MtnKind,
    reference_id: uuid.UUID,
    request: parsing.MoneyRequest,
    callback_url: str,
) -> tuple[MtnTransaction, scenarios.Scenario]:
    """Accept a money-moving request: store it with its plan, and defer its callbacks.

    Raises ServiceUnavailable or InternalProcessingError for the numbers that simulate an
    outage (nothing stored), ResourceAlreadyExist for a reused reference.
    """
    scenario, party = _scenario_of(kind=kind, request=request, user=user)
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
        kind=kind,
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
                    app.configure_task(
                        "sandbox.deliver_mtn_callback",
                        allow_unknown=False,
                        schedule_in={"milliseconds": int(delay.total_seconds() * 1000)},
                    ).defer(transaction_id=row.pk)
    except IntegrityError:
        # A concurrent or earlier POST with this X-Reference-Id won the unique constraint.
        raise errors.ResourceAlreadyExist() from None
    return row, scenario


def deliver_callback(*, transaction_id: int) -> MtnCallbackAttempt:
    """POST the callback once (MTN's sandbox does not retry) and log the attempt."""
    ensure_outside_transaction()  # no row locks held during the HTTP call
    row = MtnTransaction.objects.get(pk=transaction_id)
    body = bodies.callback_body(row)
    status_code: int | None = None
    error = ""
    started = time.perf_counter()
    try:
        response = requests.post(
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
    with transaction.atomic(durable=True):
        attempt = MtnCallbackAttempt.objects.create(
            transaction=row,
            url=row.callback_url,
            body=body,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            created_at=timezone.now(),
        )
    logger.info(
        "mtn simulator callback delivered",
        extra={"reference_id": str(row.reference_id), "status_code": status_code},
    )
    return attempt
