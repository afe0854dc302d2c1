from gateway.errors import GatewayError


class PayoutBatchNotFound(GatewayError):
    status = 404
    code = "payout_batch_not_found"
    title = "No payout batch with this id"
    remedy = (
        "Check the id (pob_…) and that you use a key of the same mode (test or live) as the "
        "one that created the batch."
    )
    retryable = False


class PayoutBatchNotCancellable(GatewayError):
    status = 409
    code = "payout_batch_not_cancellable"
    title = "The payout batch has no queued payouts left to cancel"
    remedy = (
        "Only payouts still queued (next_action: queued, held back while their operator is "
        "unavailable) can be cancelled; the others are with the operator or final already."
    )
    retryable = False
