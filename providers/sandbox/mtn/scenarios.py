"""What the simulator does for each test number: the gateway's table (API.md, "Testing") plus
MTN's own sandbox values (providers.md §1.8). Any number not listed succeeds, with a callback.

Gateway test numbers (as the payer of a request to pay, or the payee of a transfer, deposit or
refund; a refund's payee is the original request's payer):

| number        | behaviour                                                             |
|---------------|-----------------------------------------------------------------------|
| 260960000001  | FAILED, PAYER_NOT_FOUND (PAYEE_NOT_FOUND as a payee)                  |
| 260960000002  | FAILED, APPROVAL_REJECTED                                             |
| 260960000003  | FAILED, EXPIRED                                                       |
| 260960000004  | PENDING forever, no callback                                          |
| 260960000005  | FAILED, NOT_ENOUGH_FUNDS                                              |
| 260960000006  | SUCCESSFUL, never calls back                                          |
| 260960000007  | stored, then answered only after MTN_SIMULATOR_SLOW_SECONDS;          |
|               | SUCCESSFUL, no callback (found by polling)                            |
| 260960000008  | 500 INTERNAL_PROCESSING_ERROR to the first attempt of a reference     |
|               | (not stored); the retry with the same reference is accepted           |
| 260960000009  | 503 SERVICE_UNAVAILABLE to everything, nothing stored                 |
| 260960000010  | SUCCESSFUL, the callback is delivered twice                           |
| 260960000011  | the callback says SUCCESSFUL, while the status GET says PENDING until |
|               | twice the delay, then FAILED, INTERNAL_PROCESSING_ERROR               |
| 260960000012  | ported out to Airtel: unknown here, like …001 (the Airtel simulator   |
|               | knows it; the Zamtel one does not)                                    |

Account holders: 260960000001 and 260960000012 (ported) are not found (`active` false,
`basicuserinfo` 404, consent `unknown_user_id`), 260960000002 declines consent
(`access_denied`) and 260960000009 answers 503; MTN's sandbox numbers follow §1.8's last
column (46733123451, NotActive, also declines).

Request to withdraw, pre-approval, invoice and the v2 payment pick their scenario by payer, as
a request to pay does; a cash transfer by payee, as a transfer does.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from providers.sandbox.mtn import errors
from providers.sandbox.mtn.models import MtnKind, MtnStatus


class Answer(enum.StrEnum):
    """How the money-moving POST itself is answered."""

    ACCEPT = "accept"
    SLOW = "slow"  # stored, then the answer is held longer than the caller waits
    FAIL_FIRST_ATTEMPT = "fail_first_attempt"
    UNAVAILABLE = "unavailable"


class Timing(enum.StrEnum):
    DELAY = "delay"  # outcome and callback after MTN_SIMULATOR_CALLBACK_DELAY_SECONDS
    ONGOING = "ongoing"  # after MTN_SIMULATOR_ONGOING_SECONDS
    LATE = "late"  # callback after the delay, the status GET's outcome after twice the delay


@dataclass(frozen=True)
class Scenario:
    name: str
    final_status: MtnStatus | None = MtnStatus.SUCCESSFUL  # None: never resolves
    reason: str = ""
    pending_status: MtnStatus = MtnStatus.PENDING
    answer: Answer = Answer.ACCEPT
    callbacks: int = 1  # 0: never calls back; 2: the same callback twice
    callback_status: MtnStatus | None = None  # what the callback claims, if not the truth
    timing: Timing = Timing.DELAY


@dataclass(frozen=True)
class Plan:
    outcome_at: datetime | None
    callback_delays: list[timedelta] = field(default_factory=list)


@dataclass(frozen=True)
class Holder:
    """An account holder for `/accountholder/…/active` and `/basicuserinfo`."""

    found: bool = True
    active: bool = True
    error: type[errors.MtnError] | None = None
    consents: bool = True  # approves a CIBA consent request


SUCCESS = Scenario("success")
GATEWAY_PREFIX = "2609600000"


def _failed(name: str, reason: str) -> Scenario:
    return Scenario(name, final_status=MtnStatus.FAILED, reason=reason)


def _gateway(not_found_reason: str) -> dict[str, Scenario]:
    numbers = {
        "01": _failed("not_found", not_found_reason),
        "02": _failed("declined", "APPROVAL_REJECTED"),
        "03": _failed("expired", "EXPIRED"),
        "04": Scenario("pending_forever", final_status=None, callbacks=0),
        "05": _failed("not_enough_funds", "NOT_ENOUGH_FUNDS"),
        "06": Scenario("no_callback", callbacks=0),
        "07": Scenario("slow_answer", answer=Answer.SLOW, callbacks=0),
        "08": Scenario("fail_first_attempt", answer=Answer.FAIL_FIRST_ATTEMPT),
        "09": Scenario("unavailable", answer=Answer.UNAVAILABLE, callbacks=0),
        "10": Scenario("duplicate_callback", callbacks=2),
        "11": Scenario(
            "callback_mismatch",
            final_status=MtnStatus.FAILED,
            reason="INTERNAL_PROCESSING_ERROR",
            callback_status=MtnStatus.SUCCESSFUL,
            timing=Timing.LATE,
        ),
        "12": _failed("ported_out", not_found_reason),
    }
    return {GATEWAY_PREFIX + suffix: scenario for suffix, scenario in numbers.items()}


# MTN's sandbox: "Ongoing" is PENDING then SUCCESSFUL after 30 s (2018 docs; a 2026 observation
# saw FAILED/EXPIRED after ~3 min instead); "Delayed" was observed as CREATED, never resolving.
_ONGOING = Scenario("mtn_ongoing", timing=Timing.ONGOING)
_DELAYED = Scenario("mtn_delayed", final_status=None, pending_status=MtnStatus.CREATED, callbacks=0)
_MTN_SHARED = {
    "0": _failed("mtn_failed", "INTERNAL_PROCESSING_ERROR"),
    "1": _failed("mtn_rejected", "APPROVAL_REJECTED"),
    "2": _failed("mtn_expired", "EXPIRED"),
    "3": _ONGOING,
    "4": _DELAYED,
}
# 46733123455…464: the reason, as payer (request to pay) and as payee (payouts).
_MTN_PAYER_REASONS = [
    "PAYER_NOT_FOUND",
    "PAYEE_NOT_ALLOWED_TO_RECEIVE",
    "NOT_ALLOWED",
    "NOT_ALLOWED_TARGET_ENVIRONMENT",
    "INVALID_CALLBACK_URL_HOST",
    "INVALID_CURRENCY",
    "INTERNAL_PROCESSING_ERROR",
    "SERVICE_UNAVAILABLE",
    "COULD_NOT_PERFORM_TRANSACTION",
    "TRANSFER_TYPE_UNKNOWN",
]
_MTN_PAYEE_REASONS = [
    "NOT_ENOUGH_FUNDS",
    "PAYER_LIMIT_REACHED",
    "PAYEE_NOT_FOUND",
    "NOT_ALLOWED",
    "NOT_ALLOWED_TARGET_ENVIRONMENT",
    "INVALID_CALLBACK_URL_HOST",
    "INVALID_CURRENCY",
    "INTERNAL_PROCESSING_ERROR",
    "SERVICE_UNAVAILABLE",
    "TRANSFER_TYPE_UNKNOWN",
]
MTN_PREFIX = "4673312345"
MTN_SUCCESS_NUMBER = "56733123453"


def _mtn(reasons: list[str]) -> dict[str, Scenario]:
    table = {f"4673312345{digit}": scenario for digit, scenario in _MTN_SHARED.items()}
    for offset, reason in enumerate(reasons):
        table[f"4673312345{5 + offset}" if offset < 5 else f"4673312346{offset - 5}"] = _failed(
            f"mtn_{reason.lower()}", reason
        )
    table[MTN_SUCCESS_NUMBER] = Scenario("mtn_success")
    return table


PAYER_SCENARIOS = {**_gateway("PAYER_NOT_FOUND"), **_mtn(_MTN_PAYER_REASONS)}
PAYEE_SCENARIOS = {**_gateway("PAYEE_NOT_FOUND"), **_mtn(_MTN_PAYEE_REASONS)}

# MTN's sandbox values for `referenceIdToRefund` (§1.8); a real original refunds by its payer.
REFUND_SCENARIOS = {
    "1": _failed("mtn_refund_not_found", "TRANSACTION_NOT_FOUND"),
    "2": _failed("mtn_refund_failed", "INTERNAL_PROCESSING_ERROR"),
    "3": _failed("mtn_refund_rejected", "APPROVAL_REJECTED"),
    "4": _failed("mtn_refund_expired", "EXPIRED"),
    "5": _ONGOING,
    "6": _DELAYED,
    "7": _failed("mtn_refund_not_allowed", "NOT_ALLOWED"),
    "8": _failed("mtn_refund_target_environment", "NOT_ALLOWED_TARGET_ENVIRONMENT"),
    "9": _failed("mtn_refund_callback_host", "INVALID_CALLBACK_URL_HOST"),
    "10": _failed("mtn_refund_currency", "INVALID_CURRENCY"),
    "11": _failed("mtn_refund_internal_error", "INTERNAL_PROCESSING_ERROR"),
    "12": _failed("mtn_refund_unavailable", "SERVICE_UNAVAILABLE"),
    "13": _failed("mtn_refund_could_not_perform", "COULD_NOT_PERFORM_TRANSACTION"),
}
# Refunds whose original cannot be refunded (our design: MTN documents no such case).
REFUND_ORIGINAL_NOT_FOUND = _failed("refund_original_not_found", "TRANSACTION_NOT_FOUND")
REFUND_NOT_ALLOWED = _failed("refund_not_allowed", "NOT_ALLOWED")

# An MTN-prefixed number whose wallet is at Airtel (the same number in all three simulators).
PORTED_TO_AIRTEL = GATEWAY_PREFIX + "12"

HOLDERS = {
    GATEWAY_PREFIX + "01": Holder(found=False, active=False),
    GATEWAY_PREFIX + "02": Holder(consents=False),
    PORTED_TO_AIRTEL: Holder(found=False, active=False),
    GATEWAY_PREFIX + "09": Holder(error=errors.ServiceUnavailable),
    MTN_PREFIX + "0": Holder(found=False, active=False),  # NotFound
    MTN_PREFIX + "1": Holder(active=False, consents=False),  # NotActive
    MTN_PREFIX + "2": Holder(error=errors.NotAllowed),
    MTN_PREFIX + "3": Holder(error=errors.NotAllowedTargetEnvironment),
    MTN_PREFIX + "4": Holder(error=errors.InternalProcessingError),
    MTN_PREFIX + "5": Holder(error=errors.ServiceUnavailable),
}


# Kinds whose party is the payer (the others name a payee).
PAYER_KINDS = frozenset(
    {
        MtnKind.REQUEST_TO_PAY,
        MtnKind.REQUEST_TO_WITHDRAW,
        MtnKind.PREAPPROVAL,
        MtnKind.INVOICE,
        MtnKind.PAYMENT,
    }
)


def for_party(*, kind: MtnKind, party_id: str) -> Scenario:
    """The scenario of a collection-like request (by payer) or a payout (by payee).

    §1.8 lists deposits with requests to pay, but a deposit's body names a payee, as a
    transfer's does: the simulator treats deposits as transfers.
    """
    table = PAYER_SCENARIOS if kind in PAYER_KINDS else PAYEE_SCENARIOS
    return table.get(party_id, SUCCESS)


def for_refund_value(reference_id_to_refund: str) -> Scenario | None:
    return REFUND_SCENARIOS.get(reference_id_to_refund)


def for_holder(party_id: str) -> Holder:
    return HOLDERS.get(party_id, Holder())


# Made-up people: the simulator has no customer register, so a number always gets the same name.
_GIVEN_NAMES = ("Chanda", "Mutale", "Bwalya", "Mwila", "Natasha", "Kondwani", "Thandiwe")
_FAMILY_NAMES = ("Mulenga", "Banda", "Phiri", "Tembo", "Zulu", "Lungu", "Mwansa")


def holder_names(party_id: str) -> tuple[str, str]:
    """(given name, family name) of the holder of `party_id`."""
    digest = hashlib.sha256(party_id.encode()).digest()
    return _GIVEN_NAMES[digest[0] % len(_GIVEN_NAMES)], _FAMILY_NAMES[
        digest[1] % len(_FAMILY_NAMES)
    ]


def plan(scenario: Scenario, *, now: datetime) -> Plan:
    """When the outcome is due and when each callback is sent, from the settings of now."""
    delay = timedelta(seconds=settings.MTN_SIMULATOR_CALLBACK_DELAY_SECONDS)
    if scenario.timing is Timing.ONGOING:
        delay = timedelta(seconds=settings.MTN_SIMULATOR_ONGOING_SECONDS)
    outcome_delay = delay * 2 if scenario.timing is Timing.LATE else delay
    if scenario.final_status is None:
        return Plan(outcome_at=None)
    return Plan(outcome_at=now + outcome_delay, callback_delays=[delay] * scenario.callbacks)
