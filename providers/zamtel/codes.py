"""Zamtel's statuses and failure codes on our ASSUMED contract (no first-hand Zamtel API
documentation exists; the contract is modelled on pawaPay's v2 API, which carries Zamtel),
mapped once, in one table, to what the money path does. Codes are mapped by name, never from
a message. A real Zamtel specification replaces this module and the adapter behind the same
ProviderAdapter interface.
"""

from __future__ import annotations

import enum

from providers.base import FailureCode


class Verdict(enum.StrEnum):
    SUCCESS = "success"
    PENDING = "pending"  # accepted or in progress: wait and ask again
    DUPLICATE = "duplicate"  # our id is already there: an earlier attempt arrived
    FAILED = "failed"


# The answer to a POST (initiation): `status`.
INITIATION: dict[str, Verdict] = {
    "ACCEPTED": Verdict.PENDING,
    "ENQUEUED": Verdict.PENDING,
    "DUPLICATE_IGNORED": Verdict.DUPLICATE,
    "REJECTED": Verdict.FAILED,
}

# The status of a transaction (`data.status` of an enquiry, `status` of a callback).
STATUSES: dict[str, Verdict] = {
    "ACCEPTED": Verdict.PENDING,
    "ENQUEUED": Verdict.PENDING,
    "SUBMITTED": Verdict.PENDING,  # older API version
    "PROCESSING": Verdict.PENDING,
    "IN_RECONCILIATION": Verdict.PENDING,  # the operator itself does not know yet
    "COMPLETED": Verdict.SUCCESS,
    "FAILED": Verdict.FAILED,
}

_F = FailureCode
# failureReason.failureCode (a failed transaction) or a rejection's code -> our failure code
FAILURE_CODES: dict[str, FailureCode] = {
    # A transaction that failed at the operator.
    "PAYER_NOT_FOUND": _F.PAYER_NOT_FOUND,
    "RECIPIENT_NOT_FOUND": _F.PAYER_NOT_FOUND,
    "PAYMENT_NOT_APPROVED": _F.PAYER_DECLINED,
    "PAYER_DECLINED": _F.PAYER_DECLINED,
    "PAYMENT_EXPIRED": _F.EXPIRED,  # ours: the customer did not approve in time
    "INSUFFICIENT_BALANCE": _F.INSUFFICIENT_FUNDS,
    "PAYER_LIMIT_REACHED": _F.LIMIT_EXCEEDED,
    "RECIPIENT_LIMIT_REACHED": _F.LIMIT_EXCEEDED,
    "WALLET_LIMIT_REACHED": _F.LIMIT_EXCEEDED,
    "ACCOUNT_BARRED": _F.NOT_ALLOWED,
    "UNSPECIFIED_FAILURE": _F.PROVIDER_ERROR,
    "OTHER_ERROR": _F.PROVIDER_ERROR,  # the older API's name
    # A request rejected before anything happened.
    "INVALID_PAYER_FORMAT": _F.INVALID_MSISDN,
    "INVALID_RECIPIENT_FORMAT": _F.INVALID_MSISDN,
    "INVALID_PHONE_NUMBER": _F.INVALID_MSISDN,
    "INVALID_CURRENCY": _F.PROVIDER_ERROR,
    "INVALID_AMOUNT": _F.PROVIDER_ERROR,
    "AMOUNT_TOO_SMALL": _F.LIMIT_EXCEEDED,
    "AMOUNT_TOO_LARGE": _F.LIMIT_EXCEEDED,
    "PARAMETER_INVALID": _F.PROVIDER_ERROR,
    "INVALID_INPUT": _F.PROVIDER_ERROR,
    "DEPOSITS_NOT_ALLOWED": _F.NOT_ALLOWED,
    "PAYOUTS_NOT_ALLOWED": _F.NOT_ALLOWED,
    "REFUNDS_NOT_ALLOWED": _F.NOT_ALLOWED,
    "DEPOSIT_NOT_FOUND": _F.PROVIDER_ERROR,  # a refund of a collection Zamtel does not know
    "DEPOSIT_NOT_COMPLETED": _F.PROVIDER_ERROR,
    "AMOUNT_EXCEEDS_DEPOSIT": _F.PROVIDER_ERROR,
}


def failure_code(code: str | None) -> FailureCode:
    """Our failure code for Zamtel's; an unknown code is the operator's error, never silence."""
    return FAILURE_CODES.get((code or "").upper(), FailureCode.PROVIDER_ERROR)
