"""Validation of what callers send, as MTN validates it, into typed values.

Format errors are 400; a currency the target environment does not use and a callback host
other than the API user's are MTN's 500s (providers.md §1.6).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from gateway import jsonbody
from gateway.errors import GatewayError
from providers.sandbox.mtn import errors

# The environments this simulator serves and the one currency each accepts: MTN's sandbox
# takes only EUR, MTN Zambia only ZMW.
CURRENCY_BY_ENVIRONMENT = {"sandbox": "EUR", "mtnzambia": "ZMW"}

NOTE_MAX_LENGTH = 160
# A positive amount with at most 2 decimals: "5", "5.5", "5.55"; not "5.", ".5" or "5.555".
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
# E.164 digits without "+" and without a trunk "0".
_MSISDN = re.compile(r"^[1-9]\d{7,14}$")
# An original request's X-Reference-Id, or one of MTN's sandbox values "1"…"13" (§1.8).
_REFERENCE_TO_REFUND = re.compile(
    r"^([0-9]{1,2}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# MTN rejects these in payerMessage/payeeNote with a 400 (apostrophe: MTN's error page;
# ampersand: reported by integrators).
_FORBIDDEN_NOTE_CHARACTERS = frozenset("'&")


class PartyIdType:
    MSISDN = "MSISDN"
    EMAIL = "EMAIL"
    PARTY_CODE = "PARTY_CODE"
    ALL = frozenset({MSISDN, EMAIL, PARTY_CODE})


@dataclass(frozen=True)
class Party:
    id_type: str
    id: str

    def as_json(self) -> dict[str, str]:
        return {"partyIdType": self.id_type, "partyId": self.id}


@dataclass(frozen=True)
class MoneyRequest:
    amount: Decimal
    currency: str
    external_id: str
    payer_message: str
    payee_note: str
    party: Party | None = None  # the payer or payee; a refund names none
    reference_id_to_refund: str = ""


def parse_uuid4(value: str | None, *, name: str) -> uuid.UUID:
    """A UUID version 4 in its canonical text form, as MTN demands for X-Reference-Id."""
    try:
        parsed = uuid.UUID(value or "")
    except ValueError:
        raise errors.ValidationError(f"{name} must be a UUID version 4.") from None
    if parsed.version != 4 or str(parsed) != (value or "").lower():
        raise errors.ValidationError(f"{name} must be a UUID version 4.")
    return parsed


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        data = jsonbody.loads(body)  # the gateway's limits: depth, text PostgreSQL can store
    except GatewayError:
        raise errors.ValidationError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise errors.ValidationError("The request body must be a JSON object.")
    return data


def parse_party(data: Any, *, role: str) -> Party:
    if not isinstance(data, dict):
        raise errors.ValidationError(f"{role} is required and must be an object.")
    id_type, party_id = data.get("partyIdType"), data.get("partyId")
    if id_type not in PartyIdType.ALL:
        raise errors.ValidationError(f"{role}.partyIdType must be MSISDN, EMAIL or PARTY_CODE.")
    if not isinstance(party_id, str):
        raise errors.ValidationError(f"{role}.partyId is required and must be a string.")
    check_party_id(id_type=id_type, party_id=party_id, name=f"{role}.partyId")
    return Party(id_type=id_type, id=party_id)


def check_party_id(*, id_type: str, party_id: str, name: str = "partyId") -> None:
    if id_type == PartyIdType.MSISDN and not _MSISDN.match(party_id):
        raise errors.ValidationError(f"{name} is not a valid MSISDN (E.164 digits, no '+').")
    if id_type == PartyIdType.EMAIL and not _EMAIL.match(party_id):
        raise errors.ValidationError(f"{name} is not a valid e-mail address.")
    if id_type == PartyIdType.PARTY_CODE:
        try:
            uuid.UUID(party_id)
        except ValueError:
            raise errors.ValidationError(f"{name} is not a valid party code (UUID).") from None


def _string(data: dict[str, Any], name: str, *, required: bool) -> str:
    value = data.get(name)
    if value is None and not required and name not in data:
        return ""
    if not isinstance(value, str):
        raise errors.ValidationError(f"{name} is required and must be a string.")
    return value


def _note(data: dict[str, Any], name: str) -> str:
    value = _string(data, name, required=False)
    if len(value) > NOTE_MAX_LENGTH:
        raise errors.ValidationError(f"{name} must be at most {NOTE_MAX_LENGTH} characters.")
    if _FORBIDDEN_NOTE_CHARACTERS.intersection(value):
        raise errors.ValidationError(f"{name} contains characters that are not allowed.")
    return value


def parse_money_request(
    data: dict[str, Any], *, role: str | None, environment: str
) -> MoneyRequest:
    """The body of a request to pay (`role="payer"`), transfer/deposit ("payee") or refund."""
    amount = _string(data, "amount", required=True)
    if not _AMOUNT.match(amount) or Decimal(amount) <= 0:
        raise errors.ValidationError("amount must be a positive number with at most 2 decimals.")
    currency = _string(data, "currency", required=True)
    external_id = _string(data, "externalId", required=False)
    payer_message, payee_note = _note(data, "payerMessage"), _note(data, "payeeNote")
    party = parse_party(data.get(role), role=role) if role else None
    reference_id_to_refund = ""
    if role is None:
        reference_id_to_refund = _string(data, "referenceIdToRefund", required=True)
        if not _REFERENCE_TO_REFUND.match(reference_id_to_refund):
            raise errors.ValidationError("referenceIdToRefund must be a reference id.")
    check_currency(currency, environment=environment)
    return MoneyRequest(
        amount=Decimal(amount),
        currency=currency,
        external_id=external_id,
        payer_message=payer_message,
        payee_note=payee_note,
        party=party,
        reference_id_to_refund=reference_id_to_refund,
    )


def check_currency(currency: str, *, environment: str) -> None:
    if currency != CURRENCY_BY_ENVIRONMENT[environment]:
        raise errors.InvalidCurrency()


def callback_host(registered: str) -> str:
    """The hostname of a registered providerCallbackHost; integrators often register a URL."""
    host = urlsplit(registered).hostname if "://" in registered else registered.split(":")[0]
    return (host or "").lower()


def parse_callback_url(value: str | None, *, registered_host: str) -> str:
    """The X-Callback-Url, if sent: an absolute http(s) URL on the API user's callback host."""
    if value is None:
        return ""
    try:
        split = urlsplit(value)
    except ValueError:
        raise errors.ValidationError("X-Callback-Url must be an absolute http(s) URL.") from None
    if split.scheme not in {"http", "https"} or not split.hostname:
        raise errors.ValidationError("X-Callback-Url must be an absolute http(s) URL.")
    if split.hostname.lower() != callback_host(registered_host):
        raise errors.InvalidCallbackUrlHost()
    return value
