"""Writes of the Zamtel simulator: accepted transactions, and their signed callbacks."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from datetime import timedelta
from decimal import Decimal

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from procrastinate.contrib.django import app

from gateway.db import ensure_outside_transaction
from providers.sandbox.zamtel import scenarios
from providers.sandbox.zamtel.models import (
    ZamtelCallbackAttempt,
    ZamtelKind,
    ZamtelRejectedAttempt,
    ZamtelStatus,
    ZamtelTransaction,
)
from providers.zamtel import signing

logger = logging.getLogger(__name__)
CALLBACK_TIMEOUT = (2.0, 5.0)
ID_FIELDS = {
    ZamtelKind.DEPOSIT: "depositId",
    ZamtelKind.PAYOUT: "payoutId",
    ZamtelKind.REFUND: "refundId",
}


class Duplicate(Exception):
    """The id is already taken."""


def account_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def is_first_attempt(*, kind: ZamtelKind, transaction_id: str) -> bool:
    with transaction.atomic():
        _, created = ZamtelRejectedAttempt.objects.get_or_create(
            kind=kind, transaction_id=transaction_id, defaults={"created_at": timezone.now()}
        )
    return created


def submit(
    *,
    kind: ZamtelKind,
    account: str,
    transaction_id: str,
    msisdn: str,
    amount: Decimal,
    currency: str,
    client_reference: str,
    callback_url: str,
    scenario: scenarios.Scenario,
    deposit_id: str = "",
) -> ZamtelTransaction:
    """Store an accepted transaction with its plan, and defer its callbacks (same commit)."""
    now = timezone.now()
    delay = timedelta(seconds=settings.ZAMTEL_SIMULATOR_CALLBACK_DELAY_SECONDS)
    outcome_at = None
    if scenario.final_status is not None:
        outcome_at = now + (delay * 2 if scenario.late else delay)
    row = ZamtelTransaction(
        kind=kind,
        transaction_id=transaction_id,
        account=account,
        msisdn=msisdn,
        amount=amount,
        currency=currency,
        client_reference=client_reference,
        deposit_id=deposit_id,
        callback_url=callback_url,
        scenario=scenario.name,
        final_status=scenario.final_status or "",
        failure_code=scenario.code(kind) if scenario.final_status == ZamtelStatus.FAILED else "",
        outcome_at=outcome_at,
        callback_status=scenario.callback_status or "",
        provider_transaction_id=f"ZT{now:%y%m%d}{secrets.token_hex(4).upper()}",
        created_at=now,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            if outcome_at is not None and callback_url:
                for _ in range(scenario.callbacks):
                    app.configure_task(
                        "sandbox.deliver_zamtel_callback",
                        allow_unknown=False,
                        schedule_in={"milliseconds": int(delay.total_seconds() * 1000)},
                    ).defer(transaction_id=row.pk)
    except IntegrityError:
        raise Duplicate() from None
    return row


def transaction_data(row: ZamtelTransaction, status: ZamtelStatus) -> dict[str, object]:
    """The transaction as an enquiry's `data` (and a callback's body) shows it."""
    data: dict[str, object] = {
        ID_FIELDS[ZamtelKind(row.kind)]: row.transaction_id,
        "status": status,
        "amount": f"{row.amount:.2f}",
        "currency": row.currency,
        "country": "ZMB",
        "created": row.created_at.isoformat().replace("+00:00", "Z"),
    }
    if row.kind == ZamtelKind.REFUND:
        data["depositId"] = row.deposit_id
    else:
        party = "payer" if row.kind == ZamtelKind.DEPOSIT else "recipient"
        data[party] = {
            "type": "MMO",
            "accountDetails": {"phoneNumber": row.msisdn, "provider": "ZAMTEL_ZMB"},
        }
        if row.client_reference:
            data["clientReferenceId"] = row.client_reference
    if status == ZamtelStatus.COMPLETED:
        data["providerTransactionId"] = row.provider_transaction_id
    if status == ZamtelStatus.FAILED:
        data["failureReason"] = {
            "failureCode": row.failure_code or "UNSPECIFIED_FAILURE",
            "failureMessage": row.failure_code.replace("_", " ").capitalize() or "Failed",
        }
    return data


def deliver_callback(*, transaction_id: int) -> ZamtelCallbackAttempt:
    """POST the final status to the request's callbackUrl, signed, once; log the attempt."""
    ensure_outside_transaction()
    row = ZamtelTransaction.objects.get(pk=transaction_id)
    status = ZamtelStatus(row.callback_status or row.final_status)
    body = transaction_data(row, status)
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    secret = settings.ZAMTEL_SIMULATOR_CALLBACK_SECRET
    if secret:
        headers.update(signing.sign(secret, raw))
    status_code: int | None = None
    error = ""
    started = time.perf_counter()
    try:
        response = requests.post(
            row.callback_url,
            data=raw,
            headers=headers,
            timeout=CALLBACK_TIMEOUT,
            allow_redirects=False,
        )
        status_code = response.status_code
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    with transaction.atomic(durable=True):
        attempt = ZamtelCallbackAttempt.objects.create(
            transaction=row,
            url=row.callback_url,
            body=body,
            status_code=status_code,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000),
            created_at=timezone.now(),
        )
    logger.info(
        "zamtel simulator callback delivered",
        extra={"transaction_id": row.transaction_id, "status_code": status_code},
    )
    return attempt
