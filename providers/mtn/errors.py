"""MTN's codes and HTTP answers, mapped once to our failure codes and error kinds.

Sources: providers.md §1.6 (error bodies `{"code", "message"}`; map on `code`, never on the
message) and §4 (the project's mapping).
"""

from __future__ import annotations

from typing import Any

from providers.base import (
    FailureCode,
    PermanentError,
    ProviderCall,
    ProviderError,
    RetryableError,
    UnknownReference,
)

FAILURE_CODES: dict[str, FailureCode] = {
    "PAYER_NOT_FOUND": FailureCode.PAYER_NOT_FOUND,
    "PAYEE_NOT_FOUND": FailureCode.PAYER_NOT_FOUND,
    "NOT_ENOUGH_FUNDS": FailureCode.INSUFFICIENT_FUNDS,
    "APPROVAL_REJECTED": FailureCode.PAYER_DECLINED,
    "PAYMENT_NOT_APPROVED": FailureCode.PAYER_DECLINED,
    "TRANSACTION_CANCELED": FailureCode.PAYER_DECLINED,
    "EXPIRED": FailureCode.EXPIRED,
    "COULD_NOT_PERFORM_TRANSACTION": FailureCode.EXPIRED,  # PIN not entered within 5 min
    "PAYER_LIMIT_REACHED": FailureCode.LIMIT_EXCEEDED,
    "PAYEE_LIMIT_REACHED": FailureCode.LIMIT_EXCEEDED,
    "NOT_ALLOWED": FailureCode.NOT_ALLOWED,
    "PAYEE_NOT_ALLOWED_TO_RECEIVE": FailureCode.NOT_ALLOWED,
    "SENDER_ACCOUNT_NOT_ACTIVE": FailureCode.NOT_ALLOWED,
    "NOT_ALLOWED_TARGET_ENVIRONMENT": FailureCode.PROVIDER_ERROR,
    "INVALID_CALLBACK_URL_HOST": FailureCode.PROVIDER_ERROR,
    "INVALID_CURRENCY": FailureCode.PROVIDER_ERROR,
    "VALIDATION_ERROR": FailureCode.PROVIDER_ERROR,
    "TRANSFER_TYPE_UNKNOWN": FailureCode.PROVIDER_ERROR,
    "INTERNAL_PROCESSING_ERROR": FailureCode.PROVIDER_ERROR,
    "RESOURCE_NOT_FOUND": FailureCode.PROVIDER_ERROR,
    "SERVICE_UNAVAILABLE": FailureCode.PROVIDER_UNAVAILABLE,
}

# A 500 with these codes (or none) says nothing definite: the same X-Reference-Id may be sent
# again, and MTN answers 409 if the first attempt was in fact accepted.
_TRANSIENT_CODES = {"INTERNAL_PROCESSING_ERROR", "SERVICE_UNAVAILABLE"}


def error_code(body: Any) -> str | None:
    """MTN's `code`, from `{"code": …}`, or from an older `reason: {code, message}`."""
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, str):
        return code
    reason = body.get("reason")
    if isinstance(reason, dict) and isinstance(reason.get("code"), str):
        return str(reason["code"])
    return reason if isinstance(reason, str) else None


def failure_code_for(code: str | None) -> FailureCode:
    return FAILURE_CODES.get(code or "", FailureCode.PROVIDER_ERROR)


def classify_response(
    *, status: int, body: Any, is_status_read: bool, calls: list[ProviderCall]
) -> ProviderError:
    """The error an unsuccessful HTTP answer stands for."""
    code = error_code(body)
    message = (body.get("message") if isinstance(body, dict) else None) or f"HTTP {status}"
    if status == 404 and is_status_read:
        # Just after submission MTN may not show the reference yet: not proof it never arrived.
        return UnknownReference(f"MTN does not know the reference yet ({code})", calls=calls)
    if status in (401, 403):
        # Our credentials or IP allow-list: an operations problem, not the payer's. The payment
        # waits (and the breaker opens) until it is fixed.
        return RetryableError(
            f"MTN refused our credentials: {message}",
            failure_code=FailureCode.PROVIDER_UNAVAILABLE,
            calls=calls,
        )
    if status == 429 or status in (502, 503, 504):
        return RetryableError(
            f"MTN is unavailable: {message}",
            failure_code=FailureCode.PROVIDER_UNAVAILABLE,
            calls=calls,
        )
    if status >= 500 and (code is None or code in _TRANSIENT_CODES or code not in FAILURE_CODES):
        return RetryableError(
            f"MTN answered {status} {code or ''}".strip(),
            failure_code=failure_code_for(code),
            calls=calls,
        )
    if status == 400 and "party" in str(message).lower():
        return PermanentError(message, failure_code=FailureCode.INVALID_MSISDN, calls=calls)
    return PermanentError(
        f"MTN refused the request: {code or message}",
        failure_code=failure_code_for(code),
        calls=calls,
    )
