from __future__ import annotations

from gateway.errors import GatewayError, ValidationFailed


class DuplicateExternalId(GatewayError):
    status = 409
    code = "duplicate_external_id"
    title = "A payment with this external_id already exists"
    remedy = (
        "This external_id is already used: fetch the existing payment named in the answer instead"
        " of creating another, or use a new external_id for a new payment."
    )
    retryable = False


class OperatorDisabled(GatewayError):
    # 422: the request is well-formed, but this account's configuration (per mode, set by
    # ops) does not use the operator; another operator, or enabling it, would succeed.
    status = 422
    code = "operator_disabled"
    title = "This operator is disabled for this account"
    remedy = (
        "Name another operator, or ask operations to enable this one for your account in this mode."
    )
    retryable = False


class DailyCapExceeded(GatewayError):
    # Retryable: the cap is per Lusaka day, and failed payments stop counting against it.
    status = 422
    code = "daily_cap_exceeded"
    title = "This payment would pass the account's daily cap for the operator"
    remedy = (
        "Try again tomorrow (Lusaka time) or with a smaller amount, or ask operations to raise "
        "the cap."
    )
    retryable = True


class PaymentNotCancellable(GatewayError):
    status = 409
    code = "payment_not_cancellable"
    title = "Only a queued payment, not yet sent to its operator, can be cancelled"
    remedy = (
        "Only a queued payout or refund can be cancelled; this one was already sent to its "
        "operator or is final."
    )
    retryable = False


class PaymentNotFound(GatewayError):
    status = 404
    code = "payment_not_found"
    title = "No such payment"
    remedy = (
        "Check the payment id (pay_ and 24 characters) and that the key is of the payment's "
        "account and mode."
    )
    retryable = False


class OperatorUnavailable(GatewayError):
    status = 503
    code = "provider_unavailable"
    title = "The operator did not answer; try again shortly"
    remedy = (
        "Retry shortly with the same Idempotency-Key; GET /api/v1/providers shows each operator's"
        " availability."
    )
    retryable = True


class RefundNotAllowed(GatewayError):
    status = 409
    code = "refund_not_allowed"
    title = "Only a successful collection can be refunded"
    remedy = (
        "Refund only a SUCCESSFUL collection; a payout, a refund or an unsettled payment cannot "
        "be refunded."
    )
    retryable = False


class RefundExceedsPayment(GatewayError):
    status = 422
    code = "refund_exceeds_payment"
    title = "The refund is larger than what is left to refund"
    remedy = "Refund at most what is left: the collection's amount minus its earlier refunds."
    retryable = False


class PaymentAlreadyFinal(GatewayError):
    status = 409
    code = "payment_already_final"
    title = "The payment already has its final status"
    remedy = "Nothing to settle: a final status never changes (a refund undoes a collection)."
    retryable = False


class PaymentNotUnderReview(GatewayError):
    status = 409
    code = "payment_not_under_review"
    title = "The payment is not waiting for a manual review"
    remedy = "Nothing to settle: only a payment with next_action manual_review can be reviewed."
    retryable = False


class InvalidCursor(GatewayError):
    status = 400
    code = "invalid_cursor"
    title = "The cursor is not one this API issued"
    remedy = (
        "Follow the next or previous link of a list answer as it is, or drop cursor for the first"
        " page."
    )
    retryable = False


class InvalidIdempotencyKey(GatewayError):
    status = 400
    code = "invalid_idempotency_key"
    title = "The Idempotency-Key header must be 1 to 255 printable ASCII characters"
    remedy = "Send 1 to 255 printable ASCII characters, e.g. a UUID."
    retryable = False


class IdempotencyKeyMismatch(GatewayError):
    status = 422
    code = "idempotency_key_mismatch"
    title = "This Idempotency-Key was used with a different request"
    remedy = (
        "Use a new Idempotency-Key for a different request; reuse a key only to retry the "
        "identical request."
    )
    retryable = False


class IdempotencyKeyInUse(GatewayError):
    status = 409
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still being processed"
    remedy = (
        "Wait a moment and retry with the same key: the first request's answer will be replayed."
    )
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
    remedy = (
        "Top up your balance (GET /api/v1/balance shows what is available), or pay out less; the "
        "fee counts too."
    )
    retryable = False


class TestModeOnly(GatewayError):
    # Test money exists only in test mode: live balances change only by real payments and
    # finance's audited adjustments.
    status = 403
    code = "test_mode_only"
    title = "This endpoint only accepts test-mode keys"
    remedy = "Use a test key (sk_test_…); live balances change only by real payments."
    retryable = False
