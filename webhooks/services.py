"""Inbound operator callbacks: look up, store raw, verify, hand off to payments.

A callback URL carries the payment's unguessable token (or, for an operator that calls one
fixed URL per account, its body names our reference), so anything else is a guess: it is
answered 404 and counted, never stored. Each adapter verifies its own operator's callbacks.
A callback for a known payment is stored (capped in size and in number per payment) before
anything acts on it, and it can at most ask for a status check, once per
CALLBACK_REFRESH_INTERVAL_SECONDS per payment.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from gateway import errors
from payments import services as payments
from payments.models import Payment
from providers import registry
from providers.base import PermanentError, ProviderAdapter
from webhooks.metrics import Reason, count_received, count_rejected
from webhooks.models import CallbackOutcome, InboundCallback

logger = logging.getLogger(__name__)

# Headers worth keeping for a dispute; anything else (cookies, proxies' internals) is dropped.
_KEPT_HEADERS = {
    "content-type",
    "user-agent",
    "x-signature-256",
    "x-forwarded-for",
    "x-request-id",
    "signature",
    "signature-input",
    "content-digest",
}
_MAX_HEADER_CHARS = 1024
# What payments.models.new_callback_token makes (token_urlsafe); anything else cannot match,
# and is not worth a query (a NUL in it would not even reach PostgreSQL).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Answered to a callback that was neither stored nor acted on (the payment's quota is full).
NOT_STORED = "not_stored"


class BadSignature(errors.GatewayError):
    status = 401
    code = "bad_signature"
    title = "The callback's signature does not match"
    remedy = (
        "For operators only: sign the raw body with the shared secret (hex HMAC-SHA256 in "
        "X-Signature-256)."
    )
    retryable = False
    api = False


class UnknownCallbackToken(errors.GatewayError):
    status = 404
    code = "unknown_callback_token"
    title = "No payment has this callback URL"
    remedy = "For operators only: call back the exact URL the gateway sent with the request."
    retryable = False
    api = False


class MalformedCallback(errors.GatewayError):
    status = 400
    code = "malformed_callback"
    title = "The callback body cannot be read"
    remedy = "For operators only: send the callback body as the operator's documented JSON."
    retryable = False
    api = False


def receive_callback(*, provider: str, token: str | None, request: HttpRequest) -> str:
    """Store the callback, then verify and act on it. Returns the outcome to answer 200 with;
    raises the error to answer with otherwise."""
    payment = _find_payment(provider=provider, token=token, request=request)
    if payment is None:
        known = registry.adapter_class(provider) is not None
        count_rejected(provider=provider if known else "unknown", reason=Reason.UNKNOWN_TOKEN)
        raise UnknownCallbackToken()
    adapter = registry.get_adapter(payment.provider, payment.mode)
    raw = request.body
    limit: int = settings.CALLBACK_MAX_BODY_BYTES
    if len(raw) > limit:
        # Kept truncated, as evidence that it came (with the SHA-256 of all of it).
        _store(payment, request, raw, outcome=CallbackOutcome.TOO_LARGE, adapter=adapter)
        count_rejected(provider=provider, reason=Reason.TOO_LARGE)
        raise errors.RequestTooLarge(f"The callback is {len(raw)} bytes; the limit is {limit}.")
    callback = _store(payment, request, raw, outcome=CallbackOutcome.RECEIVED, adapter=adapter)
    if callback is None:
        count_rejected(provider=provider, reason=Reason.QUOTA_FULL)
        return NOT_STORED
    if callback.signature_valid is False:
        _conclude(callback, CallbackOutcome.BAD_SIGNATURE)
        count_rejected(provider=provider, reason=Reason.BAD_SIGNATURE)
        raise BadSignature()
    try:
        hint = adapter.parse_callback(raw)
    except PermanentError as exc:  # not JSON, nested too deep, text PostgreSQL cannot store
        _conclude(callback, CallbackOutcome.MALFORMED)
        count_rejected(provider=provider, reason=Reason.MALFORMED)
        raise MalformedCallback(exc.message) from exc
    callback.claimed_status = hint.claimed_outcome.value
    if payment.is_final:
        # A late or repeated callback: the answer is already known and never changes (checked
        # first so that it does not spend the payment's refresh slot).
        return _conclude(callback, CallbackOutcome.ALREADY_FINAL)
    if not _refresh_slot_free(payment):
        count_rejected(provider=provider, reason=Reason.THROTTLED)
        return _conclude(callback, CallbackOutcome.THROTTLED)
    # The body is never trusted: the status endpoint decides, in a job, under the payment lock.
    # request_refresh refuses a payment that became final meanwhile.
    if not payments.request_refresh(payment=payment):
        return _conclude(callback, CallbackOutcome.ALREADY_FINAL)
    return _conclude(callback, CallbackOutcome.REFRESH_REQUESTED)


def purge_old_callbacks(*, batch_size: int = 1000) -> int:
    """Delete callbacks older than CALLBACK_RETENTION_DAYS, in batches."""
    cutoff = timezone.now() - timedelta(days=settings.CALLBACK_RETENTION_DAYS)
    purged = 0
    while True:
        with transaction.atomic(durable=True):
            batch = list(
                InboundCallback.objects.filter(received_at__lt=cutoff)
                .order_by("received_at")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            deleted, _ = InboundCallback.objects.filter(pk__in=batch).delete()
        purged += deleted
        if len(batch) < batch_size:
            break
    if purged:
        logger.info("purged old operator callbacks", extra={"count": purged})
    return purged


# --- internals ------------------------------------------------------------------------------


def _find_payment(*, provider: str, token: str | None, request: HttpRequest) -> Payment | None:
    """The payment a callback is for, or None (an unknown operator, token or reference)."""
    adapter = registry.adapter_class(provider)
    if adapter is None:
        return None
    if token is not None:
        if not adapter.capabilities.callback_url_per_payment or not _TOKEN.fullmatch(token):
            return None
        return Payment.objects.filter(provider=provider, callback_token=token).first()
    if adapter.capabilities.callback_url_per_payment:
        return None  # this operator's callbacks always carry a token
    raw = request.body
    if len(raw) > settings.CALLBACK_MAX_BODY_BYTES:
        return None  # no payment is read out of a body over the cap
    reference = adapter.callback_reference(raw)
    if reference is None:
        return None
    return Payment.objects.filter(provider=provider, provider_reference=reference).first()


def _store(
    payment: Payment,
    request: HttpRequest,
    raw: bytes,
    *,
    outcome: CallbackOutcome,
    adapter: ProviderAdapter,
) -> InboundCallback | None:
    """The raw callback, or None when the payment already has its maximum of stored ones."""
    quota: int = settings.CALLBACK_MAX_STORED_PER_PAYMENT
    if InboundCallback.objects.filter(payment=payment).count() >= quota:
        return None  # rows only go away after the retention: no lock needed to say no
    callback = InboundCallback(
        provider=payment.provider,
        token=payment.callback_token,  # the payment's own, whichever way it was found
        method=request.method or "",
        headers={
            name: _pg_safe(value)[:_MAX_HEADER_CHARS]
            for name, value in request.headers.items()
            if name.lower() in _KEPT_HEADERS
        },
        body=_pg_safe(raw[: settings.CALLBACK_MAX_BODY_BYTES].decode("utf-8", "backslashreplace")),
        body_size=len(raw),
        body_sha256=hashlib.sha256(raw).hexdigest(),
        remote_addr=request.META.get("REMOTE_ADDR") or None,
        # A body refused for its size is not verified: nothing acts on it.
        signature_valid=(
            None
            if outcome == CallbackOutcome.TOO_LARGE
            else adapter.verify_callback(request.headers, raw)
        ),
        outcome=outcome,
        payment=payment,
    )
    with transaction.atomic():
        # Concurrent callbacks for one payment count and insert one at a time. An advisory
        # lock, not the payment's row lock, which the payment's own jobs hold.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"webhooks.callbacks:{payment.pk}"],
            )
        if InboundCallback.objects.filter(payment=payment).count() >= quota:
            return None
        callback.save()
    if outcome == CallbackOutcome.TOO_LARGE:
        _log(callback)
    return callback


def _refresh_slot_free(payment: Payment) -> bool:
    """True for the first callback of a burst: it takes the payment's refresh slot for the
    interval. `cache.add` is atomic on Redis and, for a new key, on the database cache (a
    unique key). On the database cache two callbacks racing exactly as an interval ends can
    both win; request_refresh's queueing lock still keeps at most one job queued."""
    interval: int = settings.CALLBACK_REFRESH_INTERVAL_SECONDS
    if interval <= 0:
        return True
    key = f"webhooks:refresh:{payment.pk}"
    # The get() spares a flood the database cache's failing INSERT on every throttled callback.
    return cache.get(key) is None and cache.add(key, 1, timeout=interval)


def _pg_safe(text: str) -> str:
    """Text PostgreSQL stores: lone surrogates as \\udXXX, NUL as \\x00."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _conclude(callback: InboundCallback, outcome: CallbackOutcome) -> CallbackOutcome:
    callback.outcome = outcome
    callback.save(update_fields=["outcome", "claimed_status"])
    _log(callback)
    return outcome


def _log(callback: InboundCallback) -> None:
    """The last step of every stored callback: its log line and its count."""
    count_received(callback)
    logger.info(
        "operator callback",
        extra={
            "provider": callback.provider,
            "outcome": callback.outcome,
            "callback_id": callback.pk,
        },
    )
