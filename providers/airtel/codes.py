"""Airtel's statuses and codes (providers.md §2.5), mapped once, in one table, to what the
money path does: a failure with our failure code, still pending, or outcome unknown.

Codes are read from `status.response_code` (DP…), `status.result_code` (ESB…) or a router
answer's `status_code` (ROUTER…); never from a message. HTTP 200 may carry any of them.
"""

from __future__ import annotations

import enum

from providers.base import FailureCode


class Verdict(enum.StrEnum):
    SUCCESS = "success"
    PENDING = "pending"  # accepted or in progress: wait and enquire
    UNKNOWN = "unknown"  # may or may not have happened: enquire, never resend with a new id
    DUPLICATE = "duplicate"  # our id is already there: an earlier attempt arrived, enquire
    FAILED = "failed"


_F = FailureCode
# code -> (verdict, failure code when FAILED)
CODES: dict[str, tuple[Verdict, FailureCode | None]] = {
    # Collections (USSD push), DP00800001…
    "DP00800001000": (Verdict.UNKNOWN, None),  # ambiguous
    "DP00800001001": (Verdict.SUCCESS, None),
    "DP00800001002": (Verdict.FAILED, _F.PAYER_DECLINED),  # incorrect PIN
    "DP00800001003": (Verdict.FAILED, _F.LIMIT_EXCEEDED),  # withdrawal limit exceeded
    "DP00800001004": (Verdict.FAILED, _F.LIMIT_EXCEEDED),  # invalid amount (below minimum)
    "DP00800001005": (Verdict.FAILED, _F.EXPIRED),  # PIN not entered
    "DP00800001006": (Verdict.PENDING, None),  # in process: the prompt was sent
    "DP00800001007": (Verdict.FAILED, _F.INSUFFICIENT_FUNDS),
    "DP00800001008": (Verdict.FAILED, _F.PAYER_DECLINED),  # refused
    "DP00800001009": (Verdict.FAILED, _F.PAYER_DECLINED),  # do not honor
    "DP00800001010": (Verdict.FAILED, _F.NOT_ALLOWED),  # not permitted (barred/unregistered)
    "DP00800001024": (Verdict.UNKNOWN, None),  # timed out
    "DP00800001025": (Verdict.UNKNOWN, None),  # not found (yet)
    "DP00800001026": (Verdict.FAILED, _F.PROVIDER_ERROR),  # x-signature mismatch
    "DP00800001029": (Verdict.FAILED, _F.EXPIRED),
    # Disbursements, DP00900001…
    "DP00900001000": (Verdict.UNKNOWN, None),
    "DP00900001001": (Verdict.SUCCESS, None),
    "DP00900001003": (Verdict.FAILED, _F.LIMIT_EXCEEDED),  # daily limit
    "DP00900001004": (Verdict.FAILED, _F.LIMIT_EXCEEDED),  # amount out of range
    "DP00900001005": (Verdict.FAILED, _F.PROVIDER_ERROR),  # failed
    "DP00900001006": (Verdict.PENDING, None),  # processing
    "DP00900001007": (Verdict.FAILED, _F.INSUFFICIENT_FUNDS),
    "DP00900001009": (Verdict.FAILED, _F.NOT_ALLOWED),  # invalid initiatee
    "DP00900001010": (Verdict.FAILED, _F.NOT_ALLOWED),  # payer not allowed
    "DP00900001011": (Verdict.DUPLICATE, None),  # similar transaction exists
    "DP00900001012": (Verdict.FAILED, _F.INVALID_MSISDN),
    "DP00900001013": (Verdict.FAILED, _F.PAYER_DECLINED),  # refused
    "DP00900001014": (Verdict.UNKNOWN, None),  # timed out
    "DP00900001015": (Verdict.UNKNOWN, None),  # not found (yet)
    "DP00900001016": (Verdict.FAILED, _F.PROVIDER_ERROR),  # signature mismatch
    "DP00900001017": (Verdict.DUPLICATE, None),  # duplicate id
    # KYC and balance
    "DP02200000000": (Verdict.FAILED, _F.PROVIDER_ERROR),
    "DP02200000001": (Verdict.SUCCESS, None),
    "DP02200000002": (Verdict.FAILED, _F.PAYER_NOT_FOUND),
    "DP02100000000": (Verdict.FAILED, _F.PROVIDER_ERROR),
    "DP02100000001": (Verdict.SUCCESS, None),
    "DP02100000002": (Verdict.FAILED, _F.INVALID_MSISDN),
    "DP02010001001": (Verdict.SUCCESS, None),  # encryption key
    # ESB result codes
    "ESB000001": (Verdict.UNKNOWN, None),  # something went wrong
    "ESB000004": (Verdict.UNKNOWN, None),  # initiation error
    "ESB000008": (Verdict.FAILED, _F.PROVIDER_ERROR),  # field validation
    "ESB000010": (Verdict.SUCCESS, None),
    "ESB000011": (Verdict.FAILED, _F.PROVIDER_ERROR),  # failed
    "ESB000014": (Verdict.UNKNOWN, None),  # status fetch error
    "ESB000033": (Verdict.FAILED, _F.INVALID_MSISDN),
    "ESB000034": (Verdict.FAILED, _F.PROVIDER_ERROR),  # country
    "ESB000035": (Verdict.FAILED, _F.PROVIDER_ERROR),  # currency
    "ESB000036": (Verdict.FAILED, _F.INVALID_MSISDN),
    "ESB000039": (Verdict.FAILED, _F.PROVIDER_ERROR),  # vendor not configured for country
    "ESB000041": (Verdict.DUPLICATE, None),  # external transaction id exists
    "ESB000045": (Verdict.UNKNOWN, None),  # no transaction (yet)
    # Router, outside the envelope
    "ROUTER117": (Verdict.UNKNOWN, None),  # timeout
}
# An enquiry's "transaction not found": the id has not arrived (yet). Never a failure; long
# after our send it means the request never arrived (adapter.py sends it again, same id).
NOT_FOUND = frozenset({"DP00800001025", "DP00900001015", "ESB000045"})
# Every other ROUTER code is a configuration problem on our side (§4: provider_error).
ROUTER_DEFAULT = (Verdict.FAILED, FailureCode.PROVIDER_ERROR)

# data.transaction.status (and a callback's status_code)
STATUSES: dict[str, tuple[Verdict, FailureCode | None]] = {
    "TS": (Verdict.SUCCESS, None),
    "SUCCESS": (Verdict.PENDING, None),  # on a push: the prompt went out, not paid
    "TIP": (Verdict.PENDING, None),
    "TA": (Verdict.UNKNOWN, None),
    "TF": (Verdict.FAILED, FailureCode.PROVIDER_ERROR),  # refined by the response code
    "TE": (Verdict.FAILED, FailureCode.EXPIRED),
}


def lookup(code: str | None) -> tuple[Verdict, FailureCode | None] | None:
    if not code:
        return None
    if code in CODES:
        return CODES[code]
    if code.startswith("ROUTER"):
        return ROUTER_DEFAULT
    return None
