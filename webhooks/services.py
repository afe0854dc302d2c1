"""Inbound operator callbacks: store raw, verify, look up, hand off to payments."""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.conf import settings
from django.http import HttpRequest

from gateway import errors
from payments import services as payments
from payments.models import Payment
from providers import registry
from providers.base import PermanentError
from webhooks.models import CallbackOutcome, InboundCallback

logger = logging.getLogger(__name__)

# Headers worth keeping for a dispute; anything else (cookies, proxies' internals) is dropped.
_KEPT_HEADERS = {"content-type", "user-agent", "x-signature-256", "x-forwarded-for", "x-request-id"}


class BadSignature(errors.GatewayError):
    status = 401
    code = "bad_signature"
    title = "The callback's signature does not match"
    retryable = False


class UnknownCallbackToken(errors.GatewayError):
    status = 404
    code = "unknown_callback_token"
    title = "No payment has this callback URL"
    retryable = False


class MalformedCallback(errors.GatewayError):
    status = 400
    code = "malformed_callback"
    title = "The callback body cannot be read"
    retryable = False


def receive_callback(*, provider: str, token: str, request: HttpRequest) -> InboundCallback:
    """Log the callback, then verify and act on it. Raises the error to answer with."""
    raw = request.body
    callback = InboundCallback.objects.create(
        provider=provider,
        token=token[:64],
        method=request.method or "",
        headers={k: v for k, v in request.headers.items() if k.lower() in _KEPT_HEADERS},
        body=raw.decode("utf-8", errors="replace"),
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )
    secret: str = settings.MTN_WEBHOOK_SECRET
    if secret:
        expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Signature-256", "").removeprefix("sha256=")
        callback.signature_valid = hmac.compare_digest(expected, given)
        if not callback.signature_valid:
            _conclude(callback, CallbackOutcome.BAD_SIGNATURE)
            raise BadSignature()
    payment = Payment.objects.filter(provider=provider, callback_token=token).first()
    if payment is None:
        _conclude(callback, CallbackOutcome.UNKNOWN_TOKEN)
        raise UnknownCallbackToken()
    callback.payment = payment
    try:
        hint = registry.get_adapter(payment.provider, payment.mode).parse_callback(raw)
    except PermanentError as exc:
        _conclude(callback, CallbackOutcome.MALFORMED)
        raise MalformedCallback(exc.message) from exc
    callback.claimed_status = hint.claimed_outcome.value
    # The body is never trusted: the status endpoint decides, in a job, under the payment lock.
    # A late or repeated callback for a final payment: the answer is known and never changes.
    requested = payments.request_refresh(payment=payment)
    _conclude(
        callback,
        CallbackOutcome.REFRESH_REQUESTED if requested else CallbackOutcome.ALREADY_FINAL,
    )
    return callback


def _conclude(callback: InboundCallback, outcome: CallbackOutcome) -> None:
    callback.outcome = outcome
    callback.save(update_fields=["outcome", "signature_valid", "payment", "claimed_status"])
    logger.info(
        "operator callback",
        extra={"provider": callback.provider, "outcome": outcome, "callback_id": callback.pk},
    )
