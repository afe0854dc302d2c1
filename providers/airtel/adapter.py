"""The Airtel Money adapter (Airtel Africa Open API, Zambia): providers.md §2.

- One OAuth token for every product (180 s; `expires_in` a string or a number), refreshed
  before it expires and once more on a 401/403.
- Every call carries `X-Country: ZM` and `X-Currency: ZMW`; v2 POSTs are signed
  (`x-signature`, `x-key`) with Airtel's RSA key, fetched from `/v1/rsa/encryption-keys`
  and cached; the disbursement PIN is encrypted with the same key.
- Our transaction id is the payment's reference (hex), fixed for life: an unknown outcome is
  enquired with it, never resent with a new one. HTTP 200 may carry a business failure: the
  envelope's codes decide (codes.py, one table).
- Collections are enquired no sooner than ENQUIRY_DELAY_SECONDS after the push (Airtel asks
  for 3 minutes); refunds are whole, by the collection's airtel_money_id.
- An ambiguous send (a 5xx, a read timeout, a dropped connection) may or may not have
  arrived. A "not found" is PENDING until NOT_FOUND_MARGIN_SECONDS past the enquiry delay
  (counted from our last send); after that the enquiry raises `UnknownReference`, and the
  payments service may send the request again with the same transaction id: Airtel refuses a
  reused id (ESB000041; payouts DP00900001017/011, providers.md §2.8), so a request that did
  arrive is answered "duplicate" (then enquired) and one that did not is taken now. Never a
  new id, and never FAILED on "not found" alone: Airtel's enquiry may lag its own records,
  and a failed payment whose request later surfaces would charge the customer for nothing.
- Callbacks come to one fixed URL per Airtel app, name our id, and may carry a `hash`
  (Base64 HMAC-SHA256 with the app's callback key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from gateway import errors as gateway_errors
from gateway import jsonbody
from providers.airtel import codes, signing
from providers.airtel.codes import Verdict
from providers.base import (
    AccountHolder,
    Balance,
    CallbackHint,
    Capabilities,
    ConfigurationError,
    FailureCode,
    Operation,
    Outcome,
    OutcomeUnknownError,
    PaymentInstruction,
    PermanentError,
    Provider,
    ProviderAdapter,
    ProviderResult,
    RefundSupport,
    RetryableError,
    UnknownReference,
)
from providers.resilience import (
    Exchange,
    Resilience,
    Transport,
    never_arrived,
    tuning,
)

KEY_PATH = "/v1/rsa/encryption-keys"
_REFERENCE_UNSAFE = re.compile(r"[^A-Za-z0-9]")
_PIN_SHOWN = "[encrypted]"


def transaction_id(reference: uuid.UUID) -> str:
    """Our id at Airtel: the payment's reference, 32 hex digits (alphanumeric, ≤64)."""
    return reference.hex


def national_number(msisdn: str) -> str:
    """Airtel takes the 9-digit national number: 260971234567 -> 971234567."""
    return msisdn[3:] if msisdn.startswith("260") else msisdn


def _amount(value: Decimal) -> int | float:
    """A JSON number in kwacha: whole amounts as integers."""
    quantized = value.quantize(Decimal("0.01"))
    return int(quantized) if quantized == quantized.to_integral() else float(quantized)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass
class _Cached:
    value: str
    refresh_at: float


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    failure_code: FailureCode | None
    code: str
    transaction: dict[str, Any]
    data: dict[str, Any]


def read_answer(body: Any) -> Answer | None:
    """What an Airtel body says, from its most specific code; None if it says nothing."""
    if not isinstance(body, dict):
        return None
    router = body.get("status_code")
    if isinstance(router, str) and router.startswith("ROUTER"):
        found = codes.lookup(router) or codes.ROUTER_DEFAULT
        return Answer(found[0], found[1], router, {}, {})
    status = _obj(body.get("status"))
    data = _obj(body.get("data"))
    transaction = _obj(data.get("transaction"))
    response_code = str(status.get("response_code") or "")
    result_code = str(status.get("result_code") or "")
    tx_status = str(transaction.get("status") or "").upper()
    by_status = codes.STATUSES.get(tx_status)
    by_code = codes.lookup(response_code)
    if by_status is not None and by_status[0] in (Verdict.FAILED, Verdict.UNKNOWN):
        # A failed status is refined by its response code when that names a failure.
        if by_code is not None and by_code[0] is Verdict.FAILED:
            return Answer(Verdict.FAILED, by_code[1], response_code, transaction, data)
        return Answer(by_status[0], by_status[1], tx_status, transaction, data)
    if by_code is not None:
        return Answer(by_code[0], by_code[1], response_code, transaction, data)
    if by_status is not None:
        return Answer(by_status[0], by_status[1], tx_status, transaction, data)
    by_result = codes.lookup(result_code)
    if by_result is not None:
        return Answer(by_result[0], by_result[1], result_code, transaction, data)
    if status.get("success") is True or str(status.get("code")) == "200":
        return Answer(Verdict.PENDING, None, "", transaction, data)
    return None


class AirtelAdapter(ProviderAdapter):
    provider = Provider.AIRTEL
    capabilities = Capabilities(
        refunds=RefundSupport.WHOLE,
        balance=True,
        kyc_name=True,
        max_amount=Decimal("100000.00"),  # Airtel's limits are not published (unconfirmed)
        decimals=2,
        ussd_code="*778#",
        callback_url_per_payment=False,
        # Airtel documents no refund enquiry: a refund whose answer is lost goes to ops.
        enquiries=frozenset({Operation.REQUEST_PAYMENT, Operation.SEND_PAYOUT}),
    )

    def __init__(self, *, mode: str, config: dict[str, str] | None = None) -> None:
        self.mode = mode
        self.config = config or settings.AIRTEL[mode]
        self.transport = Transport(
            provider=Provider.AIRTEL, base_url=self.config["BASE_URL"], secret_headers={"x-key"}
        )
        self.resilience = Resilience(provider=Provider.AIRTEL, mode=mode)
        self.breaker = self.resilience.breaker
        self._lock = threading.Lock()
        self._token: _Cached | None = None
        self._public_key: str | None = None

    @property
    def v2(self) -> bool:
        return self.config.get("API_VERSION", "v2") == "v2"

    # --- money --------------------------------------------------------------------------------

    def request_payment(self, instruction: PaymentInstruction) -> ProviderResult:
        version = "v2" if self.v2 else "v1"
        body = {
            "reference": self._reference(instruction),
            "subscriber": {
                "country": self.config["COUNTRY"],
                "currency": self.config["CURRENCY"],
                "msisdn": national_number(instruction.msisdn),
            },
            "transaction": {
                "amount": _amount(instruction.amount),
                "country": self.config["COUNTRY"],
                "currency": self.config["CURRENCY"],
                "id": transaction_id(instruction.reference),
            },
        }
        return self._submit(
            Operation.REQUEST_PAYMENT, f"/merchant/{version}/payments/", body, sign=self.v2
        )

    def send_payout(self, instruction: PaymentInstruction) -> ProviderResult:
        pin = self.config.get("DISBURSEMENT_PIN", "")
        if not pin:
            raise ConfigurationError(
                f"Airtel {self.mode} disbursement PIN is not configured "
                f"(AIRTEL_{self.mode.upper()}_DISBURSEMENT_PIN)"
            )
        payee: dict[str, Any] = {"msisdn": national_number(instruction.msisdn)}
        transaction: dict[str, Any] = {
            "amount": _amount(instruction.amount),
            "id": transaction_id(instruction.reference),
        }
        if self.v2:
            payee["currency"] = self.config["CURRENCY"]
            transaction["type"] = "B2C"
        body = {
            "payee": payee,
            "reference": self._reference(instruction),
            "pin": lambda: signing.encrypt_pin(self.public_key(), pin),
            "transaction": transaction,
        }
        version = "v2" if self.v2 else "v1"
        return self._submit(
            Operation.SEND_PAYOUT, f"/standard/{version}/disbursements/", body, sign=self.v2
        )

    def refund(self, instruction: PaymentInstruction) -> ProviderResult:
        if not instruction.refund_of_transaction_id:
            raise PermanentError("An Airtel refund needs the collection's airtel_money_id")
        version = "v2" if self.v2 else "v1"
        body = {"transaction": {"airtel_money_id": instruction.refund_of_transaction_id}}
        return self._submit(
            Operation.REFUND, f"/standard/{version}/payments/refund", body, sign=self.v2
        )

    def _reference(self, instruction: PaymentInstruction) -> str:
        """Shown on the prompt: alphanumeric, 4 to 64 characters."""
        text = _REFERENCE_UNSAFE.sub("", instruction.external_id)[:64]
        return text if len(text) >= 4 else f"ref{transaction_id(instruction.reference)}"[:64]

    def _submit(
        self, operation: Operation, path: str, body: dict[str, Any], *, sign: bool
    ) -> ProviderResult:
        def send() -> ProviderResult:
            # The PIN is encrypted per attempt (the key may have been refreshed).
            sent = {k: (v() if callable(v) else v) for k, v in body.items()}
            shown = {**sent, "pin": _PIN_SHOWN} if "pin" in sent else sent
            raw = json.dumps(sent, separators=(",", ":"))
            extra = signing.sign(self.public_key(), raw.encode()).headers if sign else {}
            exchange = self._call(
                operation,
                "POST",
                path,
                raw_body=raw,
                shown_body=shown,
                extra_headers=extra,
                read_timeout=tuning(Provider.AIRTEL, "READ_TIMEOUT_PAYMENT"),
                may_have_effect=True,
            )
            return self._money_answer(exchange, operation)

        return self.resilience.with_retries(send)

    def _money_answer(self, exchange: Exchange, operation: Operation) -> ProviderResult:
        self._raise_for_transport_status(exchange, may_have_effect=True)
        answer = read_answer(exchange.body)
        calls = [exchange.call]
        if answer is None:
            if exchange.status >= 400:
                raise PermanentError(
                    f"Airtel refused the request: HTTP {exchange.status}", calls=calls
                )
            raise OutcomeUnknownError("Airtel's answer says nothing definite", calls=calls)
        if answer.verdict is Verdict.UNKNOWN:
            raise OutcomeUnknownError(
                f"Airtel's outcome is unknown ({answer.code}): enquiring", calls=calls
            )
        if answer.verdict is Verdict.FAILED:
            raise PermanentError(
                f"Airtel refused the request: {answer.code}",
                failure_code=answer.failure_code or FailureCode.PROVIDER_ERROR,
                calls=calls,
            )
        tx_status = str(answer.transaction.get("status") or "").upper()
        done = operation is Operation.REFUND or tx_status == "TS"
        if (
            answer.verdict is Verdict.SUCCESS
            and operation is not Operation.REQUEST_PAYMENT
            and done
        ):
            # A payout is done only when its transaction says TS: a generic success code says
            # the call went through, not that the money moved, so the enquiry decides. A
            # refund has no enquiry (Airtel documents none): its answer's code is all there is.
            # A push's success is only "prompt sent".
            money_id = answer.transaction.get("airtel_money_id")
            return ProviderResult(
                outcome=Outcome.SUCCESSFUL,
                provider_transaction_id=str(money_id) if money_id else None,
                calls=calls,
            )
        return ProviderResult(outcome=Outcome.PENDING, calls=calls)  # pending or duplicate

    # --- reads --------------------------------------------------------------------------------

    def fetch_status(self, instruction: PaymentInstruction) -> ProviderResult:
        if instruction.operation is Operation.REFUND:
            # Airtel documents no refund enquiry: a refund's answer is its POST's.
            raise OutcomeUnknownError("Airtel has no refund enquiry; the refund's answer decides")
        ident = transaction_id(instruction.reference)
        if instruction.operation is Operation.REQUEST_PAYMENT:
            delay = float(self.config.get("ENQUIRY_DELAY_SECONDS") or 0)
            if instruction.submitted_at is not None and delay > 0:
                waited = (timezone.now() - instruction.submitted_at).total_seconds()
                if waited < delay:
                    return ProviderResult(outcome=Outcome.PENDING)  # not asked yet
            path = f"/standard/v1/payments/{ident}"
        elif self.v2:
            path = f"/standard/v2/disbursements/{ident}?transactionType=B2C"
        else:
            path = f"/standard/v1/disbursements/{ident}"

        not_found = False

        def read() -> ProviderResult:
            nonlocal not_found
            exchange = self._read(Operation.FETCH_STATUS, path)
            answer = read_answer(exchange.body)
            calls = [exchange.call]
            not_found = answer is not None and answer.code in codes.NOT_FOUND
            if answer is None or answer.verdict in (
                Verdict.PENDING,
                Verdict.UNKNOWN,
                Verdict.DUPLICATE,
            ):
                return ProviderResult(outcome=Outcome.PENDING, calls=calls)
            tx_status = str(answer.transaction.get("status") or "").upper()
            if answer.verdict is Verdict.SUCCESS and tx_status in ("TS", ""):
                money_id = answer.transaction.get("airtel_money_id")
                return ProviderResult(
                    outcome=Outcome.SUCCESSFUL,
                    provider_transaction_id=str(money_id) if money_id else None,
                    calls=calls,
                )
            if answer.verdict is Verdict.SUCCESS:
                return ProviderResult(outcome=Outcome.PENDING, calls=calls)
            return ProviderResult(
                outcome=Outcome.FAILED,
                failure_code=answer.failure_code or FailureCode.PROVIDER_ERROR,
                failure_message=str(answer.transaction.get("message") or answer.code),
                calls=calls,
            )

        result = self.resilience.with_retries(read)
        if not_found and self._never_arrived(instruction):
            raise UnknownReference(
                "Airtel's enquiry still does not know this id", calls=result.calls
            )
        return result

    def _never_arrived(self, instruction: PaymentInstruction) -> bool:
        """Our last send is older than the enquiry delay (collections) plus the margin."""
        wait = float(self.config.get("NOT_FOUND_MARGIN_SECONDS") or 0)
        if instruction.operation is Operation.REQUEST_PAYMENT:
            wait += float(self.config.get("ENQUIRY_DELAY_SECONDS") or 0)
        return never_arrived(instruction.submitted_at, after_seconds=wait)

    def balance(self) -> Balance:
        exchange = self.resilience.with_retries(
            lambda: self._read(Operation.BALANCE, "/standard/v1/users/balance")
        )
        answer = read_answer(exchange.body)
        if answer is None or answer.verdict is Verdict.FAILED:
            raise PermanentError(
                f"Airtel refused the balance: {answer.code if answer else ''}",
                calls=[exchange.call],
            )
        return Balance(
            available=Decimal(str(answer.data.get("balance", "0"))),
            currency=str(answer.data.get("currency", "")),
        )

    def account_holder(self, msisdn: str) -> AccountHolder:
        exchange = self.resilience.with_retries(
            lambda: self._read(
                Operation.ACCOUNT_HOLDER, f"/standard/v1/users/{national_number(msisdn)}"
            )
        )
        answer = read_answer(exchange.body)
        if answer is None or answer.verdict is Verdict.FAILED:
            # DP02200000002, "user not found": payer_not_found (codes.py), so not active.
            return AccountHolder(msisdn=msisdn, active=False, calls=[exchange.call])
        barred = str(answer.data.get("is_barred", "")).lower() in ("true", "1", "yes")
        return AccountHolder(
            msisdn=msisdn,
            active=not barred,
            given_name=answer.data.get("first_name") or None,
            family_name=answer.data.get("last_name") or None,
            calls=[exchange.call],
        )

    def _read(self, operation: Operation, path: str) -> Exchange:
        exchange = self._call(
            operation,
            "GET",
            path,
            read_timeout=tuning(Provider.AIRTEL, "READ_TIMEOUT_STATUS"),
            may_have_effect=False,
        )
        self._raise_for_transport_status(exchange, may_have_effect=False)
        return exchange

    # --- HTTP, token, key -------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token()}",
            "X-Country": self.config["COUNTRY"],
            "X-Currency": self.config["CURRENCY"],
            "Accept": "*/*",
        }

    def _call(
        self,
        operation: Operation,
        method: str,
        path: str,
        *,
        read_timeout: float,
        may_have_effect: bool,
        raw_body: str | None = None,
        shown_body: Any = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Exchange:
        """One authenticated call; a 401 or 403 refreshes the token and retries once."""
        for attempt in (1, 2):
            exchange = self.transport.send(
                operation,
                method,
                path,
                headers={**self._headers(), **(extra_headers or {})},
                raw_body=raw_body,
                shown_body=shown_body,
                read_timeout=read_timeout,
                may_have_effect=may_have_effect,
            )
            if exchange.status not in (401, 403) or attempt == 2:
                return exchange
            self.forget_token()
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for_transport_status(self, exchange: Exchange, *, may_have_effect: bool) -> None:
        status, calls = exchange.status, [exchange.call]
        if status in (401, 403):
            raise RetryableError(
                "Airtel refused our credentials",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=calls,
            )
        if status in (429, 503):
            raise RetryableError(
                f"Airtel is unavailable: HTTP {status}",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=calls,
            )
        if status == 408 or status >= 500:
            if may_have_effect:
                raise OutcomeUnknownError(
                    f"Airtel answered HTTP {status}; the request may have been taken", calls=calls
                )
            raise RetryableError(
                f"Airtel answered HTTP {status}",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=calls,
            )

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._token.refresh_at:
                self._token = self._fetch_token()
            return self._token.value

    def forget_token(self) -> None:
        with self._lock:
            self._token = None

    def _fetch_token(self) -> _Cached:
        if not self.config.get("CLIENT_ID") or not self.config.get("CLIENT_SECRET"):
            raise ConfigurationError(
                f"Airtel {self.mode} credentials are not configured (AIRTEL_{self.mode.upper()}_*)"
            )
        body = {
            "client_id": self.config["CLIENT_ID"],
            "client_secret": self.config["CLIENT_SECRET"],
            "grant_type": "client_credentials",
        }
        exchange = self.transport.send(
            Operation.TOKEN,
            "POST",
            "/auth/oauth2/token",
            headers={"Accept": "*/*"},
            raw_body=json.dumps(body),
            shown_body={**body, "client_secret": "[redacted]"},
            read_timeout=tuning(Provider.AIRTEL, "READ_TIMEOUT_TOKEN"),
            may_have_effect=False,
        )
        answer = exchange.body if isinstance(exchange.body, dict) else {}
        if exchange.status != 200 or "access_token" not in answer:
            if exchange.status in (400, 401, 403):
                raise RetryableError(
                    f"Airtel refused our credentials: {answer.get('error', exchange.status)}",
                    failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                    calls=[exchange.call],
                )
            raise RetryableError(
                f"Airtel's token endpoint answered HTTP {exchange.status}",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=[exchange.call],
            )
        try:
            lifetime = float(answer.get("expires_in") or 180)  # "180" or 180
        except (TypeError, ValueError):
            lifetime = 180.0
        margin = min(30.0, lifetime / 6)
        return _Cached(str(answer["access_token"]), time.monotonic() + lifetime - margin)

    def public_key(self) -> str:
        """Airtel's RSA key for signing and the PIN: configured, or fetched once and cached."""
        configured = self.config.get("PUBLIC_KEY", "")
        if configured:
            return configured
        with self._lock:
            cached = self._public_key
        if cached is not None:
            return cached
        exchange = self._read(Operation.TOKEN, KEY_PATH)
        answer = read_answer(exchange.body)
        key = answer.data.get("key") if answer is not None else None
        if not isinstance(key, str) or not key:
            raise RetryableError(
                "Airtel published no encryption key",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=[exchange.call],
            )
        with self._lock:
            self._public_key = key
        return key

    # --- callbacks ----------------------------------------------------------------------------

    @staticmethod
    def _callback_payload(body: bytes) -> dict[str, Any]:
        try:
            payload = jsonbody.loads(body)
        except gateway_errors.MalformedRequest as exc:
            raise PermanentError(f"The callback body is not acceptable JSON: {exc.detail}") from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("transaction"), dict):
            raise PermanentError("The callback has no transaction")
        return payload

    @classmethod
    def callback_reference(cls, body: bytes) -> uuid.UUID | None:
        try:
            ident = cls._callback_payload(body)["transaction"].get("id")
            return uuid.UUID(str(ident))
        except (PermanentError, ValueError):
            return None

    def parse_callback(self, body: bytes) -> CallbackHint:
        transaction = self._callback_payload(body)["transaction"]
        code = str(transaction.get("status_code") or "").upper()
        outcome = {"TS": Outcome.SUCCESSFUL, "TF": Outcome.FAILED}.get(code, Outcome.PENDING)
        money_id = transaction.get("airtel_money_id")
        return CallbackHint(
            claimed_outcome=outcome,
            external_id=str(transaction.get("id") or "") or None,
            provider_transaction_id=str(money_id) if money_id else None,
            reason=code or None,
        )

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool | None:
        """With the app's callback key set, `hash` must be Base64(HMAC-SHA256) of the compact
        JSON of `transaction` or of the payload without `hash` (sources differ, §2.6)."""
        secret = self.config.get("CALLBACK_HASH_KEY", "")
        if not secret:
            return None
        try:
            payload = self._callback_payload(body)
        except PermanentError:
            return False
        given = payload.get("hash")
        if not isinstance(given, str):
            return False
        rest = {k: v for k, v in payload.items() if k != "hash"}
        for message in (payload["transaction"], rest):
            compact = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
            digest = hmac.new(secret.encode(), compact, hashlib.sha256).digest()
            if hmac.compare_digest(base64.b64encode(digest).decode(), given):
                return True
        return False

    @classmethod
    def callbacks_are_signed(cls) -> bool:
        return any(settings.AIRTEL[mode].get("CALLBACK_HASH_KEY") for mode in settings.AIRTEL)

    def breaker_state(self) -> str:
        return self.resilience.state()
