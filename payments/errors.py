from __future__ import annotations

from gateway.errors import GatewayError, ValidationFailed


class DuplicateExternalId(GatewayError):
    status = 409
    code = "duplicate_external_id"
    title = "A payment with this external_id already exists"
    retryable = False


class OperatorDisabled(GatewayError):
    # 422: the request is well-formed, but this account's configuration (per mode, set by
    # ops) does not use the operator; another operator, or enabling it, would succeed.
    status = 422
    code = "operator_disabled"
    title = "This operator is disabled for this account"
    retryable = False


class DailyCapExceeded(GatewayError):
    # Retryable: the cap is per Lusaka day, and failed payments stop counting against it.
    status = 422
    code = "daily_cap_exceeded"
    title = "This payment would pass the account's daily cap for the operator"
    retryable = True


class PaymentNotCancellable(GatewayError):
    status = 409
    code = "payment_not_cancellable"
    title = "Only a queued payment, not yet sent to its operator, can be cancelled"
    retryable = False


class PaymentNotFound(GatewayError):
    status = 404
    code = "payment_not_found"
    title = "No such payment"
    retryable = False


class OperatorUnavailable(GatewayError):
    status = 503
    code = "provider_unavailable"
    title = "The operator did not answer; try again shortly"
    retryable = True


class RefundNotAllowed(GatewayError):
    status = 409
    code = "refund_not_allowed"
    title = "Only a successful collection can be refunded"
    retryable = False


class RefundExceedsPayment(GatewayError):
    status = 422
    code = "refund_exceeds_payment"
    title = "The refund is larger than what is left to refund"
    retryable = False


class PaymentNotUnderReview(GatewayError):
    status = 409
    code = "payment_not_under_review"
    title = "The payment is not waiting for a manual review"
    retryable = False


class InvalidCursor(GatewayError):
    status = 400
    code = "invalid_cursor"
    title = "The cursor is not one this API issued"
    retryable = False


class InvalidIdempotencyKey(GatewayError):
    status = 400
    code = "invalid_idempotency_key"
    title = "The Idempotency-Key header must be 1 to 255 printable ASCII characters"
    retryable = False


class IdempotencyKeyMismatch(GatewayError):
    status = 422
    code = "idempotency_key_mismatch"
    title = "This Idempotency-Key was used with a different request"
    retryable = False


class IdempotencyKeyInUse(GatewayError):
    status = 409
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still being processed"
    retryable = True


def invalid_field(field: str, message: str) -> ValidationFailed:
    """A business rule on one input field, shaped like the serializer's own field errors."""
    return ValidationFailed(errors=[{"field": field, "message": message}])


class InsufficientBalance(GatewayError):
    # 402, as Stripe answers a payment that cannot be funded: the request is well-formed and
    # would succeed with more money available, unlike a 409 about the resource's state.
    status = 402
    code = "insufficient_balance"
    title = "The available balance does not cover this amount and its fee"
    retryable = False


class TestModeOnly(GatewayError):
    # Test money exists only in test mode: live balances change only by real payments and
    # finance's audited adjustments.
    status = 403
    code = "test_mode_only"
    title = "This endpoint only accepts test-mode keys"
    retryable = False
