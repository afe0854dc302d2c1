"""What the Airtel simulator does for each test number (260 97 00000NN, as the payer of a
collection or the payee of a payout; a refund follows its collection's payer). The meanings
are the MTN simulator's, in Airtel's codes; any other number succeeds, with a callback.

| number        | behaviour                                                              |
|---------------|------------------------------------------------------------------------|
| 260970000001  | not registered: KYC DP02200000002; collection TF DP00800001010,        |
|               | payout refused DP00900001012                                           |
| 260970000002  | TF, refused (DP00800001008 / DP00900001013)                            |
| 260970000003  | TE, expired (DP00800001029)                                            |
| 260970000004  | TIP forever, no callback                                               |
| 260970000005  | TF, not enough balance (DP00800001007 / DP00900001007)                 |
| 260970000006  | TS, never calls back                                                   |
| 260970000007  | stored, answered after AIRTEL_SIMULATOR_SLOW_SECONDS; TS, no callback  |
| 260970000008  | HTTP 500 to the first attempt of an id (not stored); the retry is taken |
| 260970000009  | HTTP 503 to everything, nothing stored; KYC 503                        |
| 260970000010  | TS, the callback is delivered twice                                    |
| 260970000011  | the callback says TS; the enquiry says TIP until twice the delay, then |
|               | TF DP00800001000                                                       |
| 260960000012  | an MTN-prefixed number ported to Airtel: registered here, succeeds     |
|               | (the MTN and Zamtel simulators do not know it)                         |

KYC knows Airtel's own prefixes (097, 077, 057) and 260960000012 only: any other number is
DP02200000002, user not found.

AIRTEL_SIMULATOR_OUTAGE injects an outage into every collection and payout POST (whatever
the number): `drop` answers 500 before recording it, `lose_answer` records it, then answers 500.
A reused transaction id is refused as Airtel refuses it (ESB000041; payouts DP00900001017).

A refund succeeds at once, except that a refund to 260970000007 is stored (the money goes
back) and answered after AIRTEL_SIMULATOR_SLOW_SECONDS: a lost answer, which Airtel offers
no enquiry for.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from providers.sandbox.airtel.models import AirtelKind, AirtelStatus


class Answer(enum.StrEnum):
    ACCEPT = "accept"
    SLOW = "slow"
    FAIL_FIRST_ATTEMPT = "fail_first_attempt"
    UNAVAILABLE = "unavailable"
    REFUSE = "refuse"  # answered at once with a failure code, nothing stored


@dataclass(frozen=True)
class Scenario:
    name: str
    final_status: AirtelStatus | None = AirtelStatus.TS  # None: never resolves
    collection_code: str = ""
    payout_code: str = ""
    answer: Answer = Answer.ACCEPT
    callbacks: int = 1
    callback_status: AirtelStatus | None = None
    late: bool = False  # the enquiry's outcome after twice the delay

    def code(self, kind: AirtelKind) -> str:
        return self.collection_code if kind != AirtelKind.DISBURSEMENT else self.payout_code


SUCCESS = Scenario("success")
PREFIX = "2609700000"

SCENARIOS: dict[str, Scenario] = {
    PREFIX + "01": Scenario(
        "not_registered",
        final_status=AirtelStatus.TF,
        collection_code="DP00800001010",
        payout_code="DP00900001012",
    ),
    PREFIX + "02": Scenario(
        "refused", AirtelStatus.TF, collection_code="DP00800001008", payout_code="DP00900001013"
    ),
    PREFIX + "03": Scenario(
        "expired", AirtelStatus.TE, collection_code="DP00800001029", payout_code="DP00900001014"
    ),
    PREFIX + "04": Scenario("pending_forever", final_status=None, callbacks=0),
    PREFIX + "05": Scenario(
        "not_enough_balance",
        AirtelStatus.TF,
        collection_code="DP00800001007",
        payout_code="DP00900001007",
    ),
    PREFIX + "06": Scenario("no_callback", callbacks=0),
    PREFIX + "07": Scenario("slow_answer", answer=Answer.SLOW, callbacks=0),
    PREFIX + "08": Scenario("fail_first_attempt", answer=Answer.FAIL_FIRST_ATTEMPT),
    PREFIX + "09": Scenario("unavailable", answer=Answer.UNAVAILABLE, callbacks=0),
    PREFIX + "10": Scenario("duplicate_callback", callbacks=2),
    PREFIX + "11": Scenario(
        "callback_mismatch",
        final_status=AirtelStatus.TF,
        collection_code="DP00800001000",
        payout_code="DP00900001000",
        callback_status=AirtelStatus.TS,
        late=True,
    ),
}
NOT_REGISTERED = PREFIX + "01"
# An MTN-prefixed number whose wallet is here (the same number in all three simulators).
PORTED_IN = "260960000012"
SCENARIOS[PORTED_IN] = Scenario("ported_in")
UNAVAILABLE = PREFIX + "09"


def for_refund(msisdn: str) -> Scenario:
    """A refund of a collection from this payer: decided at once, its answer slow for …007."""
    if for_msisdn(msisdn).answer is Answer.SLOW:
        return Scenario("slow_refund", answer=Answer.SLOW, callbacks=0)
    return Scenario("refund")


def for_msisdn(msisdn: str) -> Scenario:
    """By the 9-digit national number or the full 260… number."""
    full = msisdn if msisdn.startswith("260") else f"260{msisdn}"
    return SCENARIOS.get(full, SUCCESS)
