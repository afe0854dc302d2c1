"""What the Zamtel simulator does for each test number (260 95 00000NN, as the payer of a
deposit or the recipient of a payout; a refund follows its deposit's payer). The meanings are
the MTN simulator's, in the codes of our assumed Zamtel contract; any other Zamtel number
succeeds, with a callback to the request's `callbackUrl`.

| number        | behaviour                                                              |
|---------------|------------------------------------------------------------------------|
| 260950000001  | FAILED, PAYER_NOT_FOUND (RECIPIENT_NOT_FOUND as a recipient);          |
|               | account lookup NOT_FOUND                                               |
| 260950000002  | FAILED, PAYMENT_NOT_APPROVED                                           |
| 260950000003  | FAILED, PAYMENT_EXPIRED                                                |
| 260950000004  | ACCEPTED forever, no callback                                          |
| 260950000005  | FAILED, INSUFFICIENT_BALANCE                                           |
| 260950000006  | COMPLETED, never calls back                                            |
| 260950000007  | stored, answered after ZAMTEL_SIMULATOR_SLOW_SECONDS; COMPLETED, no    |
|               | callback (found by enquiry)                                            |
| 260950000008  | HTTP 500 to the first attempt of an id (not stored); the retry is taken |
| 260950000009  | HTTP 503 to everything, nothing stored; account lookup 503             |
| 260950000010  | COMPLETED, the callback is delivered twice                             |
| 260950000011  | the callback says COMPLETED; the enquiry says ACCEPTED until twice the |
|               | delay, then FAILED, UNSPECIFIED_FAILURE                                |
| 260960000012  | ported from MTN to Airtel: the account lookup says NOT_FOUND           |
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from providers.sandbox.zamtel.models import ZamtelKind, ZamtelStatus


class Answer(enum.StrEnum):
    ACCEPT = "accept"
    SLOW = "slow"
    FAIL_FIRST_ATTEMPT = "fail_first_attempt"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Scenario:
    name: str
    final_status: ZamtelStatus | None = ZamtelStatus.COMPLETED  # None: never resolves
    failure_code: str = ""
    payout_failure_code: str = ""  # when a recipient's differs from a payer's
    answer: Answer = Answer.ACCEPT
    callbacks: int = 1
    callback_status: ZamtelStatus | None = None  # what the callback claims, if not the truth
    late: bool = False  # the enquiry's outcome after twice the delay

    def code(self, kind: ZamtelKind) -> str:
        if kind == ZamtelKind.PAYOUT and self.payout_failure_code:
            return self.payout_failure_code
        return self.failure_code


SUCCESS = Scenario("success")
PREFIX = "2609500000"
_FAILED = ZamtelStatus.FAILED

SCENARIOS: dict[str, Scenario] = {
    PREFIX + "01": Scenario(
        "not_found", _FAILED, "PAYER_NOT_FOUND", payout_failure_code="RECIPIENT_NOT_FOUND"
    ),
    PREFIX + "02": Scenario("not_approved", _FAILED, "PAYMENT_NOT_APPROVED"),
    PREFIX + "03": Scenario("expired", _FAILED, "PAYMENT_EXPIRED"),
    PREFIX + "04": Scenario("pending_forever", final_status=None, callbacks=0),
    PREFIX + "05": Scenario("insufficient_balance", _FAILED, "INSUFFICIENT_BALANCE"),
    PREFIX + "06": Scenario("no_callback", callbacks=0),
    PREFIX + "07": Scenario("slow_answer", answer=Answer.SLOW, callbacks=0),
    PREFIX + "08": Scenario("fail_first_attempt", answer=Answer.FAIL_FIRST_ATTEMPT),
    PREFIX + "09": Scenario("unavailable", answer=Answer.UNAVAILABLE, callbacks=0),
    PREFIX + "10": Scenario("duplicate_callback", callbacks=2),
    PREFIX + "11": Scenario(
        "callback_mismatch",
        _FAILED,
        "UNSPECIFIED_FAILURE",
        callback_status=ZamtelStatus.COMPLETED,
        late=True,
    ),
}
NOT_FOUND = PREFIX + "01"
# An MTN-prefixed number ported to Airtel (the same number in all three simulators): unknown
# here, as any number outside Zamtel's prefixes is.
PORTED_TO_AIRTEL = "260960000012"
UNAVAILABLE = PREFIX + "09"


def for_msisdn(msisdn: str) -> Scenario:
    return SCENARIOS.get(msisdn, SUCCESS)
