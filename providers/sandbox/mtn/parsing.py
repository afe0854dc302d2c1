"""Validation of what callers send, as MTN validates it, into typed values.

Format errors are 400; a currency the target environment does not use and a callback host
other than the API user's are MTN's 500s (providers.md §1.6).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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
    amount: Decimal | None  # None: a pre-approval, which moves no money
    currency: str
    external_id: str
    payer_message: str
    payee_note: str
    party: Party | None = None  # the payer or payee; a refund names none
    reference_id_to_refund: str = ""
    # What the kind adds, echoed back by its status GET (see bodies.py).
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsentRequest:
    msisdn: str
    scope: str
    access_type: str


@dataclass(frozen=True)
class DeliveryNotification:
    message: str
    language: str


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


def _amount(data: dict[str, Any], name: str = "amount") -> Decimal:
    amount = _string(data, name, required=True)
    if not _AMOUNT.match(amount) or Decimal(amount) <= 0:
        raise errors.ValidationError(f"{name} must be a positive number with at most 2 decimals.")
    return Decimal(amount)


def _optional_strings(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The optional string fields a kind echoes back; a non-string is a 400."""
    values = {}
    for name in names:
        if data.get(name) is not None:
            values[name] = _string(data, name, required=True)
    return values


def parse_money_request(
    data: dict[str, Any], *, role: str | None, environment: str
) -> MoneyRequest:
    """The body of a request to pay or withdraw (`role="payer"`), transfer/deposit ("payee")
    or refund (None)."""
    amount = _amount(data)
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
        amount=amount,
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


# Remittance v2 cash transfer: the sender's details, as MTN's reference names them (its
# spelling "orginatingCountry" included).
CASH_TRANSFER_FIELDS = (
    "orginatingCountry",
    "originalAmount",
    "originalCurrency",
    "payerIdentificationType",
    "payerIdentificationNumber",
    "payerIdentity",
    "payerFirstName",
    "payerSurName",
    "payerLanguageCode",
    "payerEmail",
    "payerMsisdn",
    "payerGender",
)


def parse_cash_transfer(data: dict[str, Any], *, environment: str) -> MoneyRequest:
    money = parse_money_request(data, role="payee", environment=environment)
    details = _optional_strings(data, CASH_TRANSFER_FIELDS)
    for required in ("orginatingCountry", "originalAmount", "originalCurrency"):
        if required not in details:
            raise errors.ValidationError(f"{required} is required and must be a string.")
    _amount(details, "originalAmount")
    return replace(money, details=details)


def parse_preapproval(data: dict[str, Any], *, environment: str) -> MoneyRequest:
    """`{payer, payerCurrency, payerMessage, validityTime}`: consent to be debited later."""
    party = parse_party(data.get("payer"), role="payer")
    currency = _string(data, "payerCurrency", required=True)
    check_currency(currency, environment=environment)
    validity = data.get("validityTime")
    if validity is not None and (
        isinstance(validity, bool) or not isinstance(validity, int) or validity <= 0
    ):
        raise errors.ValidationError("validityTime must be a positive number of seconds.")
    return MoneyRequest(
        amount=None,
        currency=currency,
        external_id="",
        payer_message=_note(data, "payerMessage"),
        payee_note="",
        party=party,
        details={"validityTime": validity} if validity is not None else {},
    )


def parse_invoice(data: dict[str, Any], *, environment: str) -> MoneyRequest:
    """`{externalId, amount, currency, validityDuration, intendedPayer, payee, description}`."""
    amount = _amount(data)
    currency = _string(data, "currency", required=True)
    external_id = _string(data, "externalId", required=True)
    duration = _string(data, "validityDuration", required=True)
    if not duration.isdigit() or int(duration) <= 0:
        raise errors.ValidationError("validityDuration must be a positive number of seconds.")
    payer = parse_party(data.get("intendedPayer"), role="intendedPayer")
    payee = parse_party(data.get("payee"), role="payee")
    description = _note(data, "description")
    check_currency(currency, environment=environment)
    return MoneyRequest(
        amount=amount,
        currency=currency,
        external_id=external_id,
        payer_message="",
        payee_note="",
        party=payer,
        details={
            "validityDuration": duration,
            "payee": payee.as_json(),
            "description": description,
        },
    )


PAYMENT_FIELDS = (
    "customerReference",
    "serviceProviderUserName",
    "couponId",
    "productId",
    "productOfferingId",
    "receiverMessage",
    "senderNote",
)


def parse_payment(data: dict[str, Any], *, environment: str) -> MoneyRequest:
    """Collection v2 payment: `{externalTransactionId, money: {amount, currency}, ...}`; the
    customer is `customerReference` (an MSISDN picks a scenario, anything else succeeds)."""
    external_id = _string(data, "externalTransactionId", required=True)
    money = data.get("money")
    if not isinstance(money, dict):
        raise errors.ValidationError("money is required and must be an object.")
    amount = _amount(money)
    currency = _string(money, "currency", required=True)
    details: dict[str, Any] = _optional_strings(data, PAYMENT_FIELDS)
    for name in ("maxNumberOfRetries",):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise errors.ValidationError(f"{name} must be an integer.")
    if data.get("includeSenderCharges") not in (None, True, False):
        raise errors.ValidationError("includeSenderCharges must be a boolean.")
    check_currency(currency, environment=environment)
    reference = details.get("customerReference", "")
    party = Party(id_type=PartyIdType.MSISDN, id=reference) if _MSISDN.match(reference) else None
    return MoneyRequest(
        amount=amount,
        currency=currency,
        external_id=external_id,
        payer_message=details.get("receiverMessage", ""),
        payee_note=details.get("senderNote", ""),
        party=party,
        details=details,
    )


def parse_form(body: bytes, content_type: str) -> dict[str, str]:
    """An OAuth-style form (`application/x-www-form-urlencoded`), or a JSON object of strings
    from clients that send JSON there."""
    if content_type.split(";")[0].strip().lower() == "application/json":
        data = parse_json_object(body)
        return {key: value for key, value in data.items() if isinstance(value, str)}
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise errors.ValidationError("The form is not valid UTF-8.") from None


# CIBA's login_hint as MTN spells it: "ID:<msisdn>/MSISDN".
_LOGIN_HINT = re.compile(r"^ID:(?P<msisdn>[^/]+)/MSISDN$")
ACCESS_TYPES = frozenset({"online", "offline"})


def parse_consent_request(form: dict[str, str]) -> ConsentRequest:
    match = _LOGIN_HINT.match(form.get("login_hint", ""))
    if match is None:
        raise errors.ValidationError("login_hint must look like ID:<msisdn>/MSISDN.")
    msisdn = match["msisdn"]
    check_party_id(id_type=PartyIdType.MSISDN, party_id=msisdn, name="login_hint")
    scope = form.get("scope", "").strip()
    if not scope:
        raise errors.ValidationError("scope is required.")
    access_type = form.get("access_type", "")
    if access_type not in ACCESS_TYPES:
        raise errors.ValidationError("access_type must be online or offline.")
    return ConsentRequest(msisdn=msisdn, scope=scope, access_type=access_type)


_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def parse_delivery_notification(
    *, header: str | None, body: bytes, language: str | None
) -> DeliveryNotification:
    """The message is in the `notificationMessage` header or the body's field of that name
    (MTN's reference has both); when both are sent the header is used."""
    message = header
    if message is None and body:
        value = parse_json_object(body).get("notificationMessage")
        if value is not None and not isinstance(value, str):
            raise errors.ValidationError("notificationMessage must be a string.")
        message = value
    if not message or not message.strip():
        raise errors.ValidationError("notificationMessage is required.")
    checked = _note({"notificationMessage": message}, "notificationMessage")
    if language is not None and not _LANGUAGE.match(language):
        raise errors.ValidationError("Language must be a language code such as en or fr.")
    return DeliveryNotification(message=checked, language=language or "")
