"""What each payment `failure_code` means: one table, for the API, /errors/ and the docs.

A FAILED payment's `failure_message` is this table's sentence for its code, written for the
merchant to show its customer as it is; what the operator itself said (its own code or text,
`PAYER_NOT_FOUND`, `INTERNAL_PROCESSING_ERROR`) or the gateway's note is `failure_detail`,
kept verbatim for support and reconciliation.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.base import FailureCode


@dataclass(frozen=True)
class Failure:
    title: str  # what happened, for the merchant's developer
    customer_message: str  # a sentence a merchant can show its customer
    remedy: str  # what to do next
    retry_may_succeed: bool  # a new payment (new external_id) may succeed as it is


FAILURES: dict[str, Failure] = {
    FailureCode.PAYER_NOT_FOUND: Failure(
        title="The number has no active mobile-money wallet at the operator",
        customer_message="This number has no active mobile-money account. Check the number "
        "or use another one.",
        remedy="Ask the customer to check the number (GET /api/v1/accounts/{msisdn} tells "
        "whether a wallet is active) or to pay from another wallet.",
        retry_may_succeed=False,
    ),
    FailureCode.INSUFFICIENT_FUNDS: Failure(
        title="The wallet does not hold enough money",
        customer_message="There is not enough money in the mobile-money account. Top it up "
        "and try again.",
        remedy="Ask the customer to top up the wallet, then create a new payment.",
        retry_may_succeed=True,
    ),
    FailureCode.PAYER_DECLINED: Failure(
        title="The customer declined the prompt on their phone",
        customer_message="The payment was declined on the phone.",
        remedy="Create a new payment only if the customer asks to pay again.",
        retry_may_succeed=True,
    ),
    FailureCode.EXPIRED: Failure(
        title="The customer did not approve the prompt in time, or the operator never "
        "gave a final answer",
        customer_message="The payment request timed out before it was approved. Please try "
        "again and approve the prompt on your phone.",
        remedy="Create a new payment and ask the customer to watch for the prompt.",
        retry_may_succeed=True,
    ),
    FailureCode.LIMIT_EXCEEDED: Failure(
        title="The amount passes a limit of the wallet or of the operator",
        customer_message="This amount is above the limit of the mobile-money account. Try a "
        "smaller amount.",
        remedy="Use a smaller amount, or ask the customer to have their wallet limit raised.",
        retry_may_succeed=False,
    ),
    FailureCode.NOT_ALLOWED: Failure(
        title="The operator does not allow this payment for this wallet",
        customer_message="This mobile-money account cannot make this payment. Contact your "
        "mobile-money provider.",
        remedy="The customer should ask their operator; the wallet may be barred or of a "
        "kind that cannot do this.",
        retry_may_succeed=False,
    ),
    FailureCode.INVALID_MSISDN: Failure(
        title="The operator rejected the number as invalid",
        customer_message="This phone number is not valid for mobile money. Check the number.",
        remedy="Check the number with the customer.",
        retry_may_succeed=False,
    ),
    FailureCode.PROVIDER_ERROR: Failure(
        title="The operator refused the request for a reason of its own",
        customer_message="The mobile-money provider could not process the payment. Please "
        "try again later.",
        remedy="failure_detail holds what the operator said; retry later with a new payment, "
        "and contact support quoting the payment id if it persists.",
        retry_may_succeed=True,
    ),
    FailureCode.PROVIDER_UNAVAILABLE: Failure(
        title="The operator did not answer",
        customer_message="The mobile-money service is unavailable right now. Please try "
        "again in a few minutes.",
        remedy="Retry with a new payment shortly; GET /api/v1/providers shows availability.",
        retry_may_succeed=True,
    ),
    FailureCode.CANCELLED: Failure(
        title="Cancelled by the merchant while queued; never sent to the operator",
        customer_message="The payment was cancelled.",
        remedy="Nothing was sent and nothing moved; create a new payment if it is still due.",
        retry_may_succeed=True,
    ),
}


def customer_message(failure_code: str) -> str | None:
    """`failure_message` for a payment with this code (None when it has none)."""
    failure = FAILURES.get(failure_code)
    return failure.customer_message if failure is not None else None
