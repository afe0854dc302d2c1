"""Writes of the Airtel simulator: its key pair, tokens, accepted transactions, callbacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta
from decimal import Decimal

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from procrastinate.contrib.django import app

from gateway.db import ensure_outside_transaction
from providers.sandbox.airtel import scenarios
from providers.sandbox.airtel.models import (
    AirtelAccessToken,
    AirtelCallbackAttempt,
    AirtelKeyPair,
    AirtelKind,
    AirtelRejectedAttempt,
    AirtelStatus,
    AirtelTransaction,
)

logger = logging.getLogger(__name__)
KEY_ID = "sandbox-1"
CALLBACK_TIMEOUT = (2.0, 5.0)


class Duplicate(Exception):
    """The transaction id is already taken."""


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def key_pair() -> AirtelKeyPair:
    """The simulator's RSA key pair, made once and shared by every process."""
    existing = AirtelKeyPair.objects.filter(key_id=KEY_ID).first()
    if existing is not None:
        return existing
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        with transaction.atomic():
            return AirtelKeyPair.objects.create(
                key_id=KEY_ID,
                private_pem=pem,
                public_der_b64=base64.b64encode(der).decode(),
                created_at=timezone.now(),
            )
    except IntegrityError:  # another process made it first
        return AirtelKeyPair.objects.get(key_id=KEY_ID)


def private_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(key_pair().private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)  # noqa: S101  # we made it
    return key


def issue_token(*, client_id: str) -> tuple[str, int]:
    token = secrets.token_urlsafe(32)
    ttl = settings.AIRTEL_SIMULATOR_TOKEN_TTL_SECONDS
    now = timezone.now()
    AirtelAccessToken.objects.create(
        token_hash=hash_secret(token),
        client_id=client_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    return token, ttl


def money_id() -> str:
    # Shaped like Airtel's "MP210603.1234.L06941".
    stamp = timezone.now().strftime("%y%m%d.%H%M")
    return f"MP{stamp}.{secrets.token_hex(3).upper()}"


def is_first_attempt(*, kind: AirtelKind, transaction_id: str) -> bool:
    with transaction.atomic():
        _, created = AirtelRejectedAttempt.objects.get_or_create(
            kind=kind, transaction_id=transaction_id, defaults={"created_at": timezone.now()}
        )
    return created


def submit(
    *,
    kind: AirtelKind,
    client_id: str,
    transaction_id: str,
    msisdn: str,
    amount: Decimal,
    reference: str,
    signed: bool,
    scenario: scenarios.Scenario,
    refunded_money_id: str = "",
) -> AirtelTransaction:
    """Store an accepted transaction with its plan, and defer its callbacks (same commit)."""
    now = timezone.now()
    delay = timedelta(seconds=settings.AIRTEL_SIMULATOR_CALLBACK_DELAY_SECONDS)
    outcome_at = None
    if scenario.final_status is not None:
        outcome_at = now + (delay * 2 if scenario.late else delay)
    row = AirtelTransaction(
        kind=kind,
        transaction_id=transaction_id,
        client_id=client_id,
        msisdn=msisdn,
        amount=amount,
        reference=reference,
        refunded_money_id=refunded_money_id,
        signed=signed,
        scenario=scenario.name,
        final_status=scenario.final_status or "",
        response_code=scenario.code(kind),
        outcome_at=outcome_at,
        callback_status=scenario.callback_status or "",
        airtel_money_id=money_id(),
        created_at=now,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            if outcome_at is not None and kind != AirtelKind.REFUND:
                for _ in range(scenario.callbacks):
                    app.configure_task(
                        "sandbox.deliver_airtel_callback",
                        allow_unknown=False,
                        schedule_in={"milliseconds": int(delay.total_seconds() * 1000)},
                    ).defer(transaction_id=row.pk)
    except IntegrityError:
        raise Duplicate() from None
    return row


def callback_body(row: AirtelTransaction) -> dict[str, object]:
    status = row.callback_status or row.final_status or AirtelStatus.TIP
    transaction_body: dict[str, object] = {
        "id": row.transaction_id,
        "message": f"Paid ZMW {row.amount} to SANDBOX MERCHANT"
        if status == AirtelStatus.TS
        else "Transaction failed",
        "status_code": status,
        "airtel_money_id": row.airtel_money_id if status == AirtelStatus.TS else "",
    }
    body: dict[str, object] = {"transaction": transaction_body}
    key = settings.AIRTEL_SIMULATOR_CALLBACK_HASH_KEY
    if key:
        compact = json.dumps(transaction_body, separators=(",", ":")).encode()
        digest = hmac.new(key.encode(), compact, hashlib.sha256).digest()
        body["hash"] = base64.b64encode(digest).decode()
    return body


def deliver_callback(*, transaction_id: int) -> AirtelCallbackAttempt:
    """POST the callback to the app's one callback URL, once, and log the attempt."""
    ensure_outside_transaction()
    row = AirtelTransaction.objects.get(pk=transaction_id)
    body = callback_body(row)
    url = settings.AIRTEL_SIMULATOR_CALLBACK_URL
    status_code: int | None = None
    error = ""
    started = time.perf_counter()
    try:
        response = requests.post(
            url,
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=CALLBACK_TIMEOUT,
            allow_redirects=False,
        )
        status_code = response.status_code
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    with transaction.atomic(durable=True):
        attempt = AirtelCallbackAttempt.objects.create(
            transaction=row,
            url=url,
            body=body,
            status_code=status_code,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000),
            created_at=timezone.now(),
        )
    logger.info(
        "airtel simulator callback delivered",
        extra={"transaction_id": row.transaction_id, "status_code": status_code},
    )
    return attempt
