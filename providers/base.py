"""The one interface every operator adapter implements, and its normalized types.

The payments app knows nothing else about operators. Errors are classified once, here and in
each adapter, into three kinds that decide what the money path does next:

- `RetryableError`: nothing happened at the operator (429, 503, connection refused, a 5xx
  that the operator's idempotent reference makes safe to repeat). Retry with backoff and the
  same reference.
- `PermanentError`: the operator definitely refused (400, 404, 422, a business rejection). Fail
  the payment with the error's `failure_code`.
- `OutcomeUnknownError`: the request may have reached the operator (a read timeout after it
  was sent). Never a failure and never a new reference: poll the status until it is known.
  Its `UnknownReference` case (the status check does not find the reference, long enough
  after our send for the adapter to judge it never arrived) lets the payments service send
  the same request again with the same reference, which the operator deduplicates. An
  adapter never sends anything from a status check: what is sent, and when, is the service's.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from django.db import models


class Provider(models.TextChoices):
    MTN = "mtn", "MTN MoMo"
    AIRTEL = "airtel", "Airtel Money"
    ZAMTEL = "zamtel", "Zamtel Kwacha"


class FailureCode(models.TextChoices):
    """Our own vocabulary, the same for every operator (API.md)."""

    PAYER_NOT_FOUND = "payer_not_found"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    PAYER_DECLINED = "payer_declined"
    EXPIRED = "expired"
    LIMIT_EXCEEDED = "limit_exceeded"
    NOT_ALLOWED = "not_allowed"
    INVALID_MSISDN = "invalid_msisdn"
    PROVIDER_ERROR = "provider_error"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    CANCELLED = "cancelled"  # by the merchant, while queued: it never reached the operator


class Outcome(enum.StrEnum):
    PENDING = "pending"
    SUCCESSFUL = "successful"
    FAILED = "failed"


class Operation(enum.StrEnum):
    REQUEST_PAYMENT = "request_payment"
    SEND_PAYOUT = "send_payout"
    REFUND = "refund"
    FETCH_STATUS = "fetch_status"
    BALANCE = "balance"
    ACCOUNT_HOLDER = "account_holder"
    TOKEN = "token"  # noqa: S105  # the OAuth token call, not a secret


@dataclass(frozen=True)
class PaymentInstruction:
    """What an adapter needs to move money, built by the payments app from a payment."""

    reference: UUID  # our idempotent reference at the operator (MTN's X-Reference-Id)
    operation: Operation  # REQUEST_PAYMENT, SEND_PAYOUT or REFUND: also selects the status URL
    amount: Decimal
    currency: str
    msisdn: str  # E.164 digits, no "+"
    external_id: str
    note: str = ""
    callback_url: str | None = None
    refund_of_reference: UUID | None = None
    # The operator's id of the refunded collection (Airtel refunds by airtel_money_id).
    refund_of_transaction_id: str | None = None
    # When the request was last sent (some operators may not be asked before a delay, and
    # a "not found" means "never arrived" only some time after it).
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class ProviderCall:
    """One HTTP exchange with an operator, secrets removed: a row of the payment's timeline."""

    operation: Operation
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any
    status_code: int | None
    response_body: Any
    duration_ms: float
    error: str = ""  # the error class when the call did not succeed


@dataclass(frozen=True)
class ProviderResult:
    outcome: Outcome
    failure_code: FailureCode | None = None
    failure_message: str = ""
    provider_transaction_id: str | None = None
    calls: list[ProviderCall] = field(default_factory=list)


@dataclass(frozen=True)
class Balance:
    available: Decimal
    currency: str


@dataclass(frozen=True)
class AccountHolder:
    msisdn: str
    active: bool
    given_name: str | None = None
    family_name: str | None = None
    # The exchanges of the lookup, for a payment's timeline when it decides a route.
    calls: list[ProviderCall] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class CallbackHint:
    """What an operator's callback claims. Only a hint: the status GET decides."""

    claimed_outcome: Outcome
    external_id: str | None = None
    provider_transaction_id: str | None = None
    reason: str | None = None


class RefundSupport(enum.StrEnum):
    NONE = "none"
    WHOLE = "whole"  # only the whole collection, in one refund (Airtel)
    PARTIAL = "partial"  # any part, in as many refunds as add up to the collection


@dataclass(frozen=True)
class Capabilities:
    """What an operator can do, declared by its adapter and checked by the services before
    anything is stored (so that a merchant gets a clear 4xx, not a late operator refusal)."""

    refunds: RefundSupport
    balance: bool  # the merchant account's balance can be read
    kyc_name: bool  # an account lookup returns the holder's name
    max_amount: Decimal  # the largest amount of one payment, in ZMW
    decimals: int  # digits after the decimal point the operator takes
    ussd_code: str  # what a customer dials to approve when the prompt does not arrive
    # False: the operator calls one fixed URL per account and the body names the payment.
    callback_url_per_payment: bool = True
    # The operations whose status the operator can be asked. Without an enquiry, a payment
    # whose answer was lost (or is still pending) cannot be settled by polling: ops decide.
    enquiries: frozenset[Operation] = frozenset(
        {Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT, Operation.REFUND}
    )

    def can_enquire(self, operation: Operation) -> bool:
        return operation in self.enquiries

    def as_dict(self) -> dict[str, Any]:
        return {
            "refunds": self.refunds.value,
            "balance": self.balance,
            "kyc_name": self.kyc_name,
            "max_amount": f"{self.max_amount:.2f}",
            "decimals": self.decimals,
            "ussd_code": self.ussd_code,
        }


class ProviderError(Exception):
    kind: ClassVar[str] = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        failure_code: FailureCode = FailureCode.PROVIDER_ERROR,
        calls: list[ProviderCall] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.failure_code = failure_code
        self.calls = calls or []
        self.retry_after = retry_after


class RetryableError(ProviderError):
    kind = "retryable"


class ProviderUnavailable(RetryableError):
    """The circuit breaker is open: failing fast instead of waiting on a sick operator."""

    kind = "breaker_open"


class PermanentError(ProviderError):
    kind = "permanent"


class OutcomeUnknownError(ProviderError):
    kind = "outcome_unknown"


class UnknownReference(OutcomeUnknownError):
    """A status check: the operator does not know our reference. Raised once the adapter
    judges it lost on the way (MTN at once; Airtel and Zamtel only NOT_FOUND_MARGIN_SECONDS
    after our last send, their enquiries lagging behind); before that, a "not found" is a
    PENDING. Never a failure (it may still be on its way); but every operator refuses a
    second request with the same reference as a duplicate, so sending it again is safe, and
    is how a request lost on the way (a 5xx, a timeout before it was stored) gets through.
    payments.services.refresh_payment decides whether it does (attempts, time left)."""

    kind = "unknown_reference"


class ConfigurationError(PermanentError):
    """Credentials or URLs missing for this mode: nothing can be sent."""

    kind = "configuration"


class ProviderAdapter(abc.ABC):
    provider: ClassVar[Provider]
    capabilities: ClassVar[Capabilities]

    def __init__(self, *, mode: str) -> None:
        self.mode = mode

    @abc.abstractmethod
    def request_payment(self, instruction: PaymentInstruction) -> ProviderResult:
        """Ask the payer to approve a collection. PENDING on acceptance."""

    @abc.abstractmethod
    def send_payout(self, instruction: PaymentInstruction) -> ProviderResult:
        """Send money to the payee's wallet. PENDING on acceptance."""

    @abc.abstractmethod
    def refund(self, instruction: PaymentInstruction) -> ProviderResult:
        """Return (part of) a collection; `refund_of_reference` names it."""

    @abc.abstractmethod
    def fetch_status(self, instruction: PaymentInstruction) -> ProviderResult:
        """The operator's own verdict on an earlier request (the only source of truth)."""

    @abc.abstractmethod
    def balance(self) -> Balance: ...

    @abc.abstractmethod
    def account_holder(self, msisdn: str) -> AccountHolder: ...

    @abc.abstractmethod
    def parse_callback(self, body: bytes) -> CallbackHint: ...

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool | None:
        """Whether the callback is the operator's own (its signature, hash or credential);
        None when this operator, or this mode's configuration, gives nothing to check."""
        return None

    @classmethod
    def callbacks_are_signed(cls) -> bool:
        """True when a verified signature is expected on this operator's callbacks."""
        return False

    @classmethod
    def callback_reference(cls, body: bytes) -> UUID | None:
        """For operators that call one fixed URL (`callback_url_per_payment` False): our
        reference named in the body, which finds the payment. None if it names none."""
        return None

    @abc.abstractmethod
    def breaker_state(self) -> str:
        """closed, open or half_open: reported by /health/ready."""
