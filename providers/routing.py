"""Zambian wallet numbers: one normal form (E.164 digits) and the operator each belongs to."""

from __future__ import annotations

import re

import phonenumbers

from gateway import errors
from providers.base import Provider

# The first two digits of the national number (providers.md §0, ITU/libphonenumber table).
# A prefix only predicts the operator: numbers may be ported, so payouts confirm the holder.
PREFIXES: dict[str, Provider] = {
    **dict.fromkeys(("55", "75", "95"), Provider.ZAMTEL),
    **dict.fromkeys(("56", "76", "96"), Provider.MTN),
    **dict.fromkeys(("57", "77", "97"), Provider.AIRTEL),
}


def _spelling(operator_code: str) -> str:
    """0961234567, 961234567, 260961234567, +260961234567, +260 96 123 4567, 0971 234 567
    (a space or a dash between digits after the operator code): the spellings
    normalize_msisdn reads, for these operator codes."""
    return rf"^(?:\+?260|0)?[ -]?{operator_code}(?:[ -]?[0-9]){{7}}$"


_SPELLING = re.compile(_spelling("[0-9]{2}"))
# What the schema documents: the spellings, for the prefixes above (every number of this
# shape is a valid Zambian mobile).
SUPPORTED_MSISDN_PATTERN = _spelling(f"(?:{'|'.join(sorted(PREFIXES))})")


class InvalidMsisdn(errors.GatewayError):
    status = 400
    code = "invalid_msisdn"
    title = "Not a Zambian mobile number"
    remedy = (
        "Send a Zambian mobile number: 0961234567, 961234567, 260961234567 or +260 96 123 4567."
    )
    retryable = False


class UnsupportedOperator(errors.GatewayError):
    status = 400
    code = "unsupported_operator"
    title = "The number's operator is not supported"
    remedy = "Use a number of MTN (096, 076), Airtel (097, 077) or Zamtel (095, 075)."
    retryable = False


def normalize_msisdn(raw: str) -> str:
    """`0961234567`, `961234567`, `260961234567`, `+260 96 123 4567` → `260961234567`."""
    text = raw.strip()
    if not _SPELLING.fullmatch(text):
        raise InvalidMsisdn(f"{raw!r} is not a phone number.")
    digits = "".join(ch for ch in text if ch.isdigit())
    candidate = f"+{digits}" if digits.startswith("260") and len(digits) == 12 else text
    try:
        number = phonenumbers.parse(candidate, "ZM")
    except phonenumbers.NumberParseException as exc:
        raise InvalidMsisdn(f"{raw!r} is not a phone number.") from exc
    if number.country_code != 260 or not phonenumbers.is_valid_number(number):
        raise InvalidMsisdn(f"{raw!r} is not a valid Zambian number.")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise InvalidMsisdn(f"{raw!r} is not a mobile number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def route_msisdn(msisdn: str) -> Provider:
    """The operator of a normalized number."""
    provider = PREFIXES.get(msisdn[3:5])
    if provider is None:
        raise UnsupportedOperator(f"No supported operator serves numbers starting 0{msisdn[3:5]}.")
    return provider
